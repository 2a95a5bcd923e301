/* bnc quantize --method gptq|awq: calibrated post-training quantization of a
 * model of bnc train's layout (llm/bnc_ptq.h). */
#include "quantize_ptq.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "bnc_err.h"
#include "bnc_ptq.h"
#include "commands.h"

int bnc_cli_ptq_method(const char *s)
{
    if (strcmp(s, "rtn") == 0) return BNC_PTQ_RTN;
    if (strcmp(s, "gptq") == 0) return BNC_PTQ_GPTQ;
    if (strcmp(s, "awq") == 0) return BNC_PTQ_AWQ;
    return -1;
}

int bnc_cli_ptq_handles(const char *type)
{
    return bnc_ptq_scheme_find(type) != NULL;
}

int bnc_cli_quantize_ptq(const char *in, const char *out, const char *type, int method,
                         const char *calib, int quiet)
{
    int inited = 0, rank = 0, status = 0;
    MPI_Initialized(&inited);
    if (!inited) MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
        bnc_ptq_opts o = {.in = in, .out = out, .type = type, .method = method, .calib = calib};
        bnc_ptq_result r;
        bnc_err err = {0};
        int rc = bnc_ptq_quantize_file(&o, &r, &err);
        if (rc) {
            status = bnc_cli_fail(rc, err.msg);
        } else {
            if (!quiet)
                printf("%s %s: %d linear tensors, mean relative output error on the "
                       "calibration sample %.5f (round-to-nearest %.5f)\n",
                       method == BNC_PTQ_GPTQ ? "gptq" : "awq", type, r.tensors, r.rel_err,
                       r.rel_err_rtn);
            printf("{\"event\":\"quantize\",\"type\":\"%s\",\"method\":\"%s\",\"tensors\":%d,"
                   "\"rel_err\":%.6g,\"rel_err_rtn\":%.6g,\"seconds\":%.3f,\"calib_sha256\":\"%s\","
                   "\"output\":\"%s\"}\n",
                   type, method == BNC_PTQ_GPTQ ? "gptq" : "awq", r.tensors, r.rel_err,
                   r.rel_err_rtn, r.seconds, r.calib_sha256, out);
        }
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!inited) MPI_Finalize();
    return status;
}

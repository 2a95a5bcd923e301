/* What a campaign ran on: recorded for every host of a run. */
#include <dirent.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_campaign.h"
#include "bnc_version.h"

static void cpuinfo_field(const char *field, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[8192];
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, fl) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ')
                    colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(out, n, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

static void first_line(const char *path, const char *prefix, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        if (!prefix || strncmp(line, prefix, strlen(prefix)) == 0) {
            char *v = line + (prefix ? strlen(prefix) : 0);
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(out, n, "%s", v);
            break;
        }
    }
    fclose(f);
}

int bnc_gpu_count(void)
{
    const char *forced = getenv("BNC_GPUS");
    if (forced) return atoi(forced);
    DIR *d = opendir("/proc/driver/nvidia/gpus");
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

char *bnc_environment_json(void)
{
    char host[256] = "", model[512], flags[4096], gpu[256] = "", driver[512];
    gethostname(host, sizeof host - 1);
    cpuinfo_field("model name", model, sizeof model);
    cpuinfo_field("flags", flags, sizeof flags);
    first_line("/proc/driver/nvidia/version", NULL, driver, sizeof driver);
    /* The first GPU's model, when the NVIDIA driver is loaded. */
    int gpus = bnc_gpu_count();
    FILE *p = popen("ls /proc/driver/nvidia/gpus 2>/dev/null | head -n 1", "r");
    if (p) {
        char bus[128] = "";
        if (fgets(bus, sizeof bus, p)) {
            bus[strcspn(bus, "\n")] = '\0';
            char path[300];
            snprintf(path, sizeof path, "/proc/driver/nvidia/gpus/%s/information", bus);
            first_line(path, "Model:", gpu, sizeof gpu);
        }
        pclose(p);
    }
    char mpiver[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    MPI_Get_library_version(mpiver, &len);
    mpiver[strcspn(mpiver, "\n,")] = '\0';
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    char pq[32];
    int v = PQlibVersion();
    snprintf(pq, sizeof pq, "%d.%d", v / 10000, v % 10000);
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
                          "host", host, "gpus", gpus, "cpu_model", model, "cpu_flags", flags,
                          "mem_bytes", (json_int_t)pages * psize, "gpu", gpu, "gpu_driver", driver,
                          "compiler", BNC_COMPILER, "mpi_version", mpiver, "nccl_version",
                          BNC_NCCL_VERSION, "libpq_version", pq, "bnc_version", BNC_VERSION,
                          "git_rev", BNC_GIT_REV, "git_dirty", BNC_GIT_DIRTY);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

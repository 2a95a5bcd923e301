/* Watching the process that launched this rank. Open MPI 4.1 has no fault
 * tolerance: when mpirun is killed, its ranks live on as orphans (rank 0
 * kept loading results into the database for 1-2 s). Each rank's parent is
 * the local launcher (mpirun, or orted on other hosts, which ends with
 * mpirun); Open MPI names its pid in PMIX_SERVER_TMPDIR (".../pid.N").
 * PR_SET_PDEATHSIG is not used: it fires when the launcher's forking thread
 * ends, not the launcher. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnc_time.h"
#include "coord.h"

void bnc_launcher_init(bnc_launcher *l)
{
    memset(l, 0, sizeof *l);
    if (!getenv("OMPI_COMM_WORLD_SIZE")) return; /* a singleton: nothing launched us */
    const char *dir = getenv("PMIX_SERVER_TMPDIR");
    const char *p = dir ? strstr(dir, "/pid.") : NULL;
    long pid = p ? strtol(p + 5, NULL, 10) : 0;
    l->pid = pid > 1 ? (pid_t)pid : getppid();
    l->is_parent = l->pid == getppid();
    if (l->pid <= 1) l->pid = 0;
}

int bnc_launcher_lost(bnc_launcher *l)
{
    if (!l || !l->pid || l->lost) return l && l->lost;
    double now = bnc_now();
    if (now < l->next_check) return 0;
    l->next_check = now + 0.01;
    if (l->is_parent)
        l->lost = getppid() != l->pid;
    else
        l->lost = kill(l->pid, 0) != 0 && errno == ESRCH;
    return l->lost;
}

#ifndef BNC_TIME_H
#define BNC_TIME_H

/* Monotonic seconds (CLOCK_MONOTONIC), for durations. */
double bnc_now(void);
/* Wall-clock seconds since the epoch (CLOCK_REALTIME), for timestamps. */
double bnc_wall(void);

#endif

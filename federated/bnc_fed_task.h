/* The campaign task kind `fed_sim`: one federated simulation per task, its
 * final metrics returned to the campaign (one row per metric). */
#ifndef BNC_FED_TASK_H
#define BNC_FED_TASK_H

#include "bnc_task.h"

/* params (JSON object; every key optional): model, compressor, downlink,
 * partition, clients, per_round, rounds, error_feedback, k_frac,
 * qsgd_levels, lr, momentum, weight_decay, prox_mu, batch, epochs, qat,
 * server_opt, server_lr, deadline_s, data_dir. Metrics: final_accuracy,
 * best_accuracy, rounds_to_085 (0: never), uplink_bytes, downlink_bytes,
 * uplink_bytes_per_round, rounds_per_s, rejected, wall_s. */
extern const bnc_task_kind bnc_kind_fed_sim;

#endif

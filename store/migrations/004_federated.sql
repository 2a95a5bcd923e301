-- Federated runs (bnc fed server / sim) and one row per completed round.
-- A resumed run keeps its name; a round redone after a crash replaces its row.
CREATE TABLE fed_runs (
    name           text PRIMARY KEY,
    config         jsonb NOT NULL,
    model          text NOT NULL,
    partition      text NOT NULL,
    uplink         text NOT NULL,
    downlink       text NOT NULL,
    error_feedback boolean NOT NULL,
    server_opt     text NOT NULL,
    clients        integer NOT NULL CHECK (clients > 0),
    per_round      integer NOT NULL CHECK (per_round > 0),
    rounds         integer NOT NULL CHECK (rounds > 0),
    seed           bigint NOT NULL,
    status         text NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'done', 'failed')),
    resumes        integer NOT NULL DEFAULT 0,
    final_accuracy double precision,
    best_accuracy  double precision,
    uplink_bytes   bigint,
    downlink_bytes bigint,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);

CREATE TABLE fed_rounds (
    run               text NOT NULL REFERENCES fed_runs(name) ON DELETE CASCADE,
    round             integer NOT NULL CHECK (round >= 1),
    accuracy          double precision NOT NULL,
    loss              double precision NOT NULL,
    train_loss        double precision,
    train_accuracy    double precision,
    uplink_bytes      bigint NOT NULL,
    downlink_bytes    bigint NOT NULL,
    clients_sampled   integer NOT NULL,
    clients_finished  integer NOT NULL,
    clients_dropped   integer NOT NULL,
    messages_rejected integer NOT NULL,
    examples          bigint NOT NULL,
    wall_s            double precision NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run, round),
    CHECK (clients_finished + clients_dropped = clients_sampled)
);

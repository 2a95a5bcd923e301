-- bnc bench collectives --db: one row per run, one per (algorithm, size).
CREATE TABLE collective_runs (
    id          bigserial PRIMARY KEY,
    backend     text NOT NULL CHECK (backend IN ('mpi', 'nccl')),
    ranks       integer NOT NULL CHECK (ranks > 0),
    environment jsonb NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE collective_results (
    run_id           bigint NOT NULL REFERENCES collective_runs(id) ON DELETE CASCADE,
    algo             text NOT NULL,
    bytes            bigint NOT NULL CHECK (bytes > 0),
    count            bigint NOT NULL,
    time_us          double precision NOT NULL,
    time_us_in_place double precision NOT NULL,
    algbw_gbps       double precision NOT NULL,
    busbw_gbps       double precision NOT NULL,
    busbw_in_place   double precision NOT NULL,
    wrong            bigint,            -- NULL: not checked
    wrong_in_place   bigint,
    wire_bytes       bigint NOT NULL,
    f32_wire_bytes   bigint NOT NULL,
    rel_error        double precision,  -- NULL: not checked
    PRIMARY KEY (run_id, algo, bytes)
);

-- Training runs of `bnc train` (llm/train*.c) and one row per optimizer step.
-- A resumed run keeps its name (resumes counts them); a step redone after a
-- resume replaces its row. Corpus files are identified by their SHA-256.
CREATE TABLE train_runs (
    name            text PRIMARY KEY,
    config          jsonb NOT NULL,
    arch            text NOT NULL,
    quant           text NOT NULL,
    grad_compress   text NOT NULL,
    ranks           integer NOT NULL CHECK (ranks > 0),
    seed            bigint NOT NULL,
    steps           integer NOT NULL CHECK (steps > 0),
    params          bigint NOT NULL,
    checkpoint      text NOT NULL,
    train_sha256    text NOT NULL,
    valid_sha256    text NOT NULL,
    test_sha256     text,
    ood_sha256      text,
    unigram_bits    double precision,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'done', 'failed', 'stopped')),
    error           text,
    resumes         integer NOT NULL DEFAULT 0,
    steps_done      integer,
    final_loss      double precision,
    valid_loss      double precision,
    test_loss       double precision,
    ood_loss        double precision,
    tokens_per_s    double precision,
    payload_bytes   bigint,
    sent_bytes      bigint,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);

CREATE TABLE train_steps (
    run           text NOT NULL REFERENCES train_runs(name) ON DELETE CASCADE,
    step          integer NOT NULL CHECK (step >= 1),
    loss          double precision NOT NULL,
    lr            double precision NOT NULL,
    grad_norm     double precision NOT NULL,
    valid_loss    double precision,
    tokens_per_s  double precision NOT NULL,
    payload_bytes bigint NOT NULL,
    sent_bytes    bigint NOT NULL,
    wall_s        double precision NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run, step)
);

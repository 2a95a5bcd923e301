-- Core schema: campaigns, the environments they ran in, tasks and their
-- metrics in long format (one row per task and metric).
CREATE TABLE campaigns (
    name        text PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    spec_text   text NOT NULL,
    spec_hash   text NOT NULL,
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'done', 'failed')),
    total_tasks integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE environments (
    id            bigserial PRIMARY KEY,
    campaign      text NOT NULL REFERENCES campaigns(name) ON DELETE CASCADE,
    host          text NOT NULL,
    ranks         integer NOT NULL,
    cpu_model     text NOT NULL DEFAULT '',
    cpu_flags     text NOT NULL DEFAULT '',
    mem_bytes     bigint,
    gpu           text NOT NULL DEFAULT '',
    gpu_driver    text NOT NULL DEFAULT '',
    compiler      text NOT NULL DEFAULT '',
    mpi_version   text NOT NULL DEFAULT '',
    nccl_version  text NOT NULL DEFAULT '',
    libpq_version text NOT NULL DEFAULT '',
    bnc_version   text NOT NULL DEFAULT '',
    git_rev       text NOT NULL DEFAULT '',
    git_dirty     boolean,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX environments_campaign ON environments (campaign);

CREATE TABLE tasks (
    id          text PRIMARY KEY,
    campaign    text NOT NULL REFERENCES campaigns(name) ON DELETE CASCADE,
    kind        text NOT NULL,
    params      jsonb NOT NULL,
    seed        bigint NOT NULL,
    status      text NOT NULL CHECK (status IN ('done', 'failed')),
    attempts    integer NOT NULL DEFAULT 1,
    rank        integer,
    host        text,
    started_at  timestamptz,
    finished_at timestamptz,
    error       text
);
CREATE INDEX tasks_campaign_kind ON tasks (campaign, kind);
CREATE INDEX tasks_params ON tasks USING gin (params);

CREATE TABLE metrics (
    task_id text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    name    text NOT NULL,
    value   double precision NOT NULL,
    unit    text NOT NULL DEFAULT '',
    PRIMARY KEY (task_id, name)
);
CREATE INDEX metrics_name ON metrics (name);

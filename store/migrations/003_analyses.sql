-- Statistics: results of `bnc analyze` and per-group summary views.
-- (Kept under 4095 characters: the file is embedded as one C string.)

-- One row per group compared with the baseline, plus grp '*' for the
-- omnibus test. NULL where a statistic is undefined; note says why.
CREATE TABLE analyses (
    id          bigserial PRIMARY KEY,
    campaign    text NOT NULL REFERENCES campaigns(name) ON DELETE CASCADE,
    metric      text NOT NULL,
    by_param    text NOT NULL,
    baseline    text NOT NULL,
    grp         text NOT NULL,
    n           integer NOT NULL,
    mean        double precision,
    sd          double precision,
    ci_lo       double precision,
    ci_hi       double precision,
    diff        double precision,
    diff_lo     double precision,
    diff_hi     double precision,
    test        text NOT NULL,
    statistic   double precision,
    df          double precision,
    df2         double precision,
    p           double precision,
    p_adj       double precision,
    correction  text NOT NULL DEFAULT '',
    p_rank      double precision,
    effect_name text NOT NULL DEFAULT '',
    effect      double precision,
    verdict     text NOT NULL,
    note        text NOT NULL DEFAULT '',
    alpha       double precision NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX analyses_campaign_metric ON analyses (campaign, metric, by_param);

-- Finite metric values of finished tasks with their parameters.
CREATE VIEW metric_values AS
SELECT t.campaign, t.kind, t.id AS task_id, t.seed, t.params, m.name AS metric, m.value
FROM tasks t JOIN metrics m ON m.task_id = t.id
WHERE t.status = 'done' AND m.value <> 'NaN';

-- Per campaign, kind, metric and (parameter, value), e.g. ('scheme',
-- 'tq2_0'). Quartiles as R's default (type 7).
CREATE VIEW campaign_group_summary AS
SELECT v.campaign, v.kind, v.metric, p.key AS param, p.value AS grp,
       count(*) AS n, avg(v.value) AS mean, stddev_samp(v.value) AS sd,
       stddev_samp(v.value) / sqrt(count(*)) AS se, min(v.value) AS min,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY v.value) AS q1,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY v.value) AS median,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY v.value) AS q3,
       max(v.value) AS max
FROM metric_values v CROSS JOIN LATERAL jsonb_each_text(v.params) AS p(key, value)
GROUP BY v.campaign, v.kind, v.metric, p.key, p.value;

-- Per campaign, kind and metric over all groups.
CREATE VIEW campaign_metric_summary AS
SELECT campaign, kind, metric, count(*) AS n, avg(value) AS mean,
       stddev_samp(value) AS sd, min(value) AS min,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median, max(value) AS max
FROM metric_values GROUP BY campaign, kind, metric;

-- The same summary by scheme, the most common grouping.
CREATE VIEW campaign_scheme_summary AS
SELECT campaign, kind, metric, grp AS scheme, n, mean, sd, se, min, q1, median, q3, max
FROM campaign_group_summary WHERE param = 'scheme';

-- NaN values per campaign, kind and metric (left out of the summaries).
CREATE VIEW campaign_nan_counts AS
SELECT t.campaign, t.kind, m.name AS metric, count(*) AS n_nan
FROM tasks t JOIN metrics m ON m.task_id = t.id
WHERE t.status = 'done' AND m.value = 'NaN' GROUP BY 1, 2, 3;

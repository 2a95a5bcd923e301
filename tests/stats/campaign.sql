-- A small synthetic campaign written straight into the core tables, for the
-- analyze/report integration tests. psql variables: camp (name), nseed
-- (seeds per condition), ntensor (tensors). Noise is a deterministic
-- function of (scheme, tensor, seed), so every run stores the same numbers.
\set ON_ERROR_STOP 1
BEGIN;
DELETE FROM campaigns WHERE name = :'camp';
INSERT INTO campaigns (name, description, spec_text, spec_hash, status, total_tasks)
VALUES (:'camp', 'synthetic quantization campaign for the statistics tests',
        E'name: ' || :'camp' || E'\nschemes: [f32, f16, q8_0, q4_0, tq2_0, tq1_0]\nseeds: 1..'
        || :'nseed' || E'\nkinds: [quant_error, gemv_bench]\n',
        'sha256:5f0c3e1d', 'done', 0);
INSERT INTO environments (campaign, host, ranks, cpu_model, cpu_flags, mem_bytes, compiler,
                          mpi_version, libpq_version, bnc_version, git_rev, git_dirty)
VALUES (:'camp', 'node-a', 4, 'AMD EPYC 9654 96-Core Processor', 'avx2 avx512f', 1099511627776,
        'gcc 12.2.0', 'Open MPI 4.1.4', '15.18', '0.1.0', 'ee5df2d0c0de', false);

CREATE TEMP TABLE scheme_def (scheme text, idx int, bpw float8, err float8, gbps float8)
    ON COMMIT DROP;
INSERT INTO scheme_def VALUES
    ('f32', 0, 32, 0, 9.5), ('f16', 1, 16, 2.1e-4, 18.0), ('q8_0', 2, 8.5, 4.0e-3, 30.0),
    ('q4_0', 3, 4.5, 7.1e-2, 33.0), ('tq2_0', 4, 2.0625, 0.452, 36.0),
    ('tq1_0', 5, 1.6875, 0.455, 35.9);

-- u(a, b, c): deterministic uniform in [0, 1) from md5
CREATE FUNCTION pg_temp.u(a int, b int, c int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT (('x' || substr(md5(a || ':' || b || ':' || c), 1, 8))::bit(32)::int::float8
           + 2147483648.0) / 4294967296.0 $$;
-- z(a, b, c): standard normal by Box-Muller
CREATE FUNCTION pg_temp.z(a int, b int, c int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT sqrt(-2 * ln(1 - pg_temp.u(a, b, c))) * cos(2 * pi() * pg_temp.u(a + 1000, b, c)) $$;

INSERT INTO tasks (id, campaign, kind, params, seed, status, rank, host)
SELECT :'camp' || '/qe/' || s.scheme || '/t' || t || '/' || seed, :'camp', 'quant_error',
       jsonb_build_object('scheme', s.scheme, 'tensor', 't' || t, 'rows', 256, 'cols', 1024),
       seed, 'done', 1 + (seed % 3), 'node-a'
FROM scheme_def s, generate_series(1, :ntensor) t, generate_series(1, :nseed) seed;

INSERT INTO metrics (task_id, name, value, unit)
SELECT id, m.name, m.value, m.unit
FROM (SELECT t.id, s.*, (t.params->>'tensor') AS tensor, t.seed,
             substr(t.params->>'tensor', 2)::int AS tn
      FROM tasks t JOIN scheme_def s ON s.scheme = t.params->>'scheme'
      WHERE t.campaign = :'camp' AND t.kind = 'quant_error') x,
LATERAL (VALUES
    ('rel_rmse', x.err * (1 + 0.04 * pg_temp.z(x.idx, x.tn, x.seed::int) + 0.02 * x.tn), ''),
    ('mse', x.err * x.err * (1 + 0.08 * pg_temp.z(x.idx + 9, x.tn, x.seed::int)), ''),
    ('bits_per_weight', x.bpw, 'bit'),
    ('quantize_gbps', x.gbps * (1 + 0.06 * pg_temp.z(x.idx + 3, x.tn, x.seed::int)), 'GB/s'),
    ('elapsed_s', 0.002 * (1 + 0.1 * pg_temp.z(x.idx + 5, x.tn, x.seed::int)), 's')
) AS m(name, value, unit);

-- one NaN (a failed measurement) that must be left out, not averaged
UPDATE metrics SET value = 'NaN'
WHERE task_id = :'camp' || '/qe/q4_0/t1/1' AND name = 'mse';

INSERT INTO tasks (id, campaign, kind, params, seed, status)
SELECT :'camp' || '/gemv/' || s.scheme || '/' || seed, :'camp', 'gemv_bench',
       jsonb_build_object('scheme', s.scheme, 'rows', 4096, 'cols', 4096), seed, 'done'
FROM scheme_def s, generate_series(1, :nseed) seed WHERE s.scheme <> 'f32';
INSERT INTO metrics (task_id, name, value, unit)
SELECT t.id, m.name, m.value, 'GB/s'
FROM tasks t JOIN scheme_def s ON s.scheme = t.params->>'scheme',
LATERAL (VALUES
    ('gbps', least(38.0, 12.0 + 2.2 * (16.0 / s.bpw) * 3) * (1 + 0.03 * pg_temp.z(s.idx, 7, t.seed::int))),
    ('bw_gbps', 41.0 * (1 + 0.01 * pg_temp.z(s.idx, 8, t.seed::int)))
) AS m(name, value)
WHERE t.campaign = :'camp' AND t.kind = 'gemv_bench';

UPDATE campaigns SET total_tasks = (SELECT count(*) FROM tasks WHERE campaign = :'camp')
WHERE name = :'camp';
COMMIT;

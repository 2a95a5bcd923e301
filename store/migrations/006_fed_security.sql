-- Federated defences (issue 15, issue 17 item 10): per round, the updates
-- clipped to the norm bound, whether the aggregate was refused (round
-- skipped, model unchanged), the peers blocked for repeated rejections,
-- the differential-privacy epsilon spent so far and the clip norm used
-- (NULL without DP), the updates that arrived after their deadline.
ALTER TABLE fed_rounds
    ADD COLUMN updates_clipped integer NOT NULL DEFAULT 0 CHECK (updates_clipped >= 0),
    ADD COLUMN round_skipped   boolean NOT NULL DEFAULT false,
    ADD COLUMN peers_blocked   integer NOT NULL DEFAULT 0 CHECK (peers_blocked >= 0),
    ADD COLUMN dp_epsilon      double precision CHECK (dp_epsilon >= 0),
    ADD COLUMN dp_clip         double precision CHECK (dp_clip > 0),
    ADD COLUMN updates_late    integer NOT NULL DEFAULT 0 CHECK (updates_late >= 0);
ALTER TABLE fed_runs
    ADD COLUMN aggregator text NOT NULL DEFAULT 'mean',
    ADD COLUMN attack     text NOT NULL DEFAULT 'none',
    ADD COLUMN attack_frac double precision NOT NULL DEFAULT 0;

-- Campaign scale: the indexes the scheduler's skip query and analysis use,
-- and a progress view per campaign.
CREATE INDEX tasks_campaign_status ON tasks (campaign, status);
CREATE INDEX metrics_name_task ON metrics (name, task_id);

CREATE VIEW campaign_progress AS
SELECT c.name AS campaign,
       c.status,
       c.total_tasks,
       count(t.id) FILTER (WHERE t.status = 'done') AS done,
       count(t.id) FILTER (WHERE t.status = 'failed') AS failed,
       min(t.started_at) AS first_started,
       max(t.finished_at) AS last_finished,
       count(DISTINCT t.host) AS hosts
FROM campaigns c
LEFT JOIN tasks t ON t.campaign = c.name
GROUP BY c.name, c.status, c.total_tasks;

-- A manager follows their people's joiners, movers and leavers on the portal; a catalog
-- request finds the workflow it started; a check-out finds whether a joiner's hand-out task has
-- reserved the asset; a leaver's proof reads the licence seats assigned to the person.
CREATE INDEX workflow_manager_idx ON workflow (manager_id, anchor_day, id);
CREATE INDEX workflow_request_idx ON workflow (request_id);
CREATE INDEX workflow_task_asset_idx ON workflow_task (asset_id);
CREATE INDEX licence_assignment_user_idx ON licence_assignment (user_id) WHERE user_id IS NOT NULL;

-- PostgreSQL gains statistics on the assignee and the state together here. SQLite keeps none of
-- how common a value is: its lists count before they walk instead (orion-store/src/tickets.rs).
SELECT 1;

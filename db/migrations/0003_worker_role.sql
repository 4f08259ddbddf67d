-- 0003: a least-privilege role for the workers (enrich, registrar, bridge, MD tools).
-- Workers read and write rows; they never delete, truncate or change the schema. Migrations and
-- seeding run as the owner. In production give it a password and point HANGER_DATABASE_URL of the
-- workers at it:  ALTER ROLE hanger_worker PASSWORD '…';  (roles are cluster-wide, so it is
-- created only once even when several databases are migrated.)
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hanger_worker') THEN
        CREATE ROLE hanger_worker LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO hanger_worker;
GRANT SELECT ON md, seller, schema_migrations TO hanger_worker;
GRANT SELECT, INSERT, UPDATE ON submission, classification, approval_request, approval_decision,
    product, audit_log, processed_message, registration TO hanger_worker;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO hanger_worker;

from django.db import migrations

FREE_MAIL_DOMAINS = """
gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr ymail.com hotmail.com hotmail.co.uk hotmail.fr
outlook.com live.com msn.com icloud.com me.com mac.com aol.com proton.me protonmail.com pm.me
gmx.com gmx.de gmx.net web.de mail.com zoho.com yandex.com yandex.ru mail.ru qq.com 163.com 126.com
fastmail.com hey.com tutanota.com laposte.net orange.fr free.fr t-online.de libero.it uol.com.br
bol.com.br terra.com.br rediffmail.com naver.com
""".split()

POSTGRES_FORBID = """
CREATE OR REPLACE FUNCTION leads_stagetransition_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The stage transition log is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER leads_stagetransition_append_only
    BEFORE UPDATE OR DELETE ON leads_stagetransition
    FOR EACH ROW EXECUTE FUNCTION leads_stagetransition_append_only();
"""
POSTGRES_ALLOW = """
DROP TRIGGER IF EXISTS leads_stagetransition_append_only ON leads_stagetransition;
DROP FUNCTION IF EXISTS leads_stagetransition_append_only();
"""
# SQLite empties tables with DELETE (it has no TRUNCATE), so there only updates are refused:
# `manage.py flush` and test teardown must still work on the embedded default.
SQLITE_FORBID = [
    """CREATE TRIGGER leads_stagetransition_no_update
    BEFORE UPDATE ON leads_stagetransition
    BEGIN SELECT RAISE(ABORT, 'The stage transition log is append-only: UPDATE is not allowed'); END;"""
]
SQLITE_ALLOW = ["DROP TRIGGER IF EXISTS leads_stagetransition_no_update;"]


def forbid_changes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORBID, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORBID:
            schema_editor.execute(statement)


def allow_changes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_ALLOW, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_ALLOW:
            schema_editor.execute(statement)


def add_free_mail_domains(apps, schema_editor):
    FreeMailDomain = apps.get_model("leads", "FreeMailDomain")
    FreeMailDomain.objects.bulk_create(
        [FreeMailDomain(domain=domain) for domain in FREE_MAIL_DOMAINS], ignore_conflicts=True
    )


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]
    operations = [
        migrations.RunPython(forbid_changes, allow_changes),
        migrations.RunPython(add_free_mail_domains, migrations.RunPython.noop),
    ]

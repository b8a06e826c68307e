from django.db import migrations

DEFAULT_REASON_CODES = [
    ("not_icp", "Not our ideal customer", "both"),
    ("no_need", "No need", "both"),
    ("no_budget", "No budget", "both"),
    ("timing", "Bad timing", "both"),
    ("competitor", "Chose a competitor", "lose"),
    ("no_show", "Did not show up", "disqualify"),
    ("other", "Other", "both"),
]


def add_reason_codes(apps, schema_editor):
    ReasonCode = apps.get_model("opportunities", "ReasonCode")
    for code, label, used_for in DEFAULT_REASON_CODES:
        ReasonCode.objects.get_or_create(code=code, defaults={"label": label, "used_for": used_for})


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0001_initial")]
    operations = [migrations.RunPython(add_reason_codes, migrations.RunPython.noop)]

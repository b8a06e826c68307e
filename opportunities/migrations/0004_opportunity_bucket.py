from django.db import migrations, models


def copy_episode_buckets(apps, schema_editor):
    Opportunity = apps.get_model("opportunities", "Opportunity")
    Qualification = apps.get_model("leads", "Qualification")
    bucket_of_episode = Qualification.objects.filter(pk=models.OuterRef("qualification_id")).values("bucket")[:1]
    Opportunity.objects.filter(qualification__isnull=False).update(bucket=models.Subquery(bucket_of_episode))


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0003_list_filter_indexes"),
        ("opportunities", "0003_teams"),
    ]

    operations = [
        migrations.AddField(
            model_name="opportunity",
            name="bucket",
            field=models.CharField(default="unqualified", max_length=50),
        ),
        migrations.RunPython(copy_episode_buckets, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="opportunity",
            index=models.Index(fields=["stage", "bucket", "created_at"], name="opportunity_queue_idx"),
        ),
    ]

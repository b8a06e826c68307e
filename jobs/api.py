from rest_framework import generics, serializers

from access.api import IsFunnelReader

from .models import Job


class JobSerializer(serializers.ModelSerializer[Job]):
    percent = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "done",
            "total",
            "percent",
            "message",
            "result",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class JobDetail(generics.RetrieveAPIView[Job]):
    """A background job's status and progress."""

    queryset = Job.objects.all()
    serializer_class = JobSerializer
    permission_classes = [IsFunnelReader]

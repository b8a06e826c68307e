"""The admins' history upload page: upload a CSV, watch its progress, read the per-row report."""

from django import forms
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from access.decorators import role_required
from access.parsers import without_nul
from access.roles import Role

from .models import ImportIssueLevel, ImportRun
from .services import import_run_create

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class HistoryUploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="One row per lead, with the columns described below.")

    def clean_file(self) -> tuple[str, str]:
        """(file name, text)."""
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
        try:
            return str(upload.name or "upload.csv"), without_nul(upload.read().decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None


@role_required(Role.REVOPS_ADMIN)
def history_upload(request: HttpRequest) -> HttpResponse:
    form = HistoryUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        file_name, content = form.cleaned_data["file"]
        user = request.user if isinstance(request.user, AbstractBaseUser) else None
        run = import_run_create(file_name=file_name, content=content, user=user)
        job = run.job
        if job is not None:
            job.refresh_from_db()
        if job is not None and job.waits_for_queue:
            messages.warning(request, f"'{run.file_name}': {job.message}")
        else:
            messages.success(request, f"'{run.file_name}' is being imported.")
        return redirect("integrations:import-detail", pk=run.pk)
    runs = ImportRun.objects.select_related("job").defer("content")[:20]
    return render(request, "integrations/import_upload.html", {"form": form, "runs": runs})


@role_required(Role.REVOPS_ADMIN)
def history_import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ImportRun.objects.select_related("job").defer("content"), pk=pk)
    issues = run.issues.all()
    context = {
        "run": run,
        "job": run.job,
        "errors": [issue for issue in issues if issue.level == ImportIssueLevel.ERROR],
        "warnings": [issue for issue in issues if issue.level == ImportIssueLevel.WARNING],
    }
    return render(request, "integrations/import_detail.html", context)

from django.db import models


class IntegrationKind(models.TextChoices):
    SEGMENT = "segment", "Segment"
    CALENDLY = "calendly", "Calendly"
    HUBSPOT = "hubspot", "HubSpot"
    INTERCOM = "intercom", "Intercom"

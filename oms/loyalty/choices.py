from django.db import models


class LoyaltyTrigger(models.TextChoices):
    CAPTURE = "capture", "On payment capture"
    COMPLETION = "completion", "On order completion"


class LoyaltyEntryKind(models.TextChoices):
    EARN = "earn", "Earned"
    BURN = "burn", "Burnt (paid with points)"
    EXPIRE = "expire", "Expired"
    REVERSE = "reverse", "Reversed (returned units)"
    DEBT_SETTLE = "debt_settle", "Debt settled"
    ADJUST = "adjust", "Adjusted"

"""The built-in health model (version 1), used until an admin PUTs one; README explains each choice."""

from app.health.schemas import BandsIn, ComponentIn, HealthModelIn

DEFAULT_VERSION = 1

DEFAULT_MODEL = HealthModelIn(
    components=[
        # Engagement: logins per seat in 30 days; ~20 (a working month of daily use per seat) is healthy.
        ComponentIn(name="logins_per_seat", weight=20, kind="login", aggregate="count", window_days=30,
                    per_seat=True, bad=0, good=20),
        # Adoption: breadth of features touched in 30 days, and onboarding milestones reached in a quarter.
        ComponentIn(name="features_used", weight=15, kind="feature_used", aggregate="distinct",
                    property="feature", window_days=30, bad=0, good=5),
        ComponentIn(name="milestones_completed", weight=10, kind="milestone_completed", aggregate="count",
                    window_days=90, bad=0, good=3),
        # Expansion signal: average daily active users per purchased seat; near-full seats precede upsells.
        ComponentIn(name="seat_utilisation", weight=15, kind="active_users", aggregate="avg", window_days=30,
                    per_seat=True, bad=0.2, good=0.9),
        # Friction, lower is better: escalations and missed milestones in a quarter, downtime minutes in 30 days.
        ComponentIn(name="escalations", weight=10, kind="ticket_escalated", aggregate="count", window_days=90,
                    bad=3, good=0),
        ComponentIn(name="milestones_missed", weight=5, kind="milestone_missed", aggregate="count",
                    window_days=90, bad=2, good=0),
        ComponentIn(name="downtime_minutes", weight=5, kind="downtime", aggregate="sum", window_days=30,
                    bad=240, good=0),
        # Sentiment: the latest NPS answer in a year (6 = detractor scores 0, 9 = promoter scores 100) and
        # the mean CSAT of half a year on its 1-5 scale.
        ComponentIn(name="nps", weight=15, kind="survey_response", where={"survey": "nps"}, aggregate="last",
                    window_days=365, bad=6, good=9),
        ComponentIn(name="csat", weight=5, kind="survey_response", where={"survey": "csat"}, aggregate="avg",
                    window_days=180, bad=2, good=5),
    ],
    bands=BandsIn(red_below=40, green_from=70),
)  # fmt: skip

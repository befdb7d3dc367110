"""A person's path to naturalisation: stage, milestones, readiness under § 10 StAG."""

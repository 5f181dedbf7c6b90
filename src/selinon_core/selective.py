"""Former home of the selective-run plan and planner; kept so that old imports keep working."""

from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.selective import plan_for_edge, plan_selective_run

__all__ = ["SelectivePlan", "plan_for_edge", "plan_selective_run"]

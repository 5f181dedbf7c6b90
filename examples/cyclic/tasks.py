"""Tasks of the cyclic diamond: each passes the iteration number along."""

from typing import Any

from selinon_core import SelinonTask


class Task1(SelinonTask):
    """Start an iteration: 1 at first, then one more than the Task4 that looped back."""

    def run(self, node_args: Any) -> Any:
        if "Task4" not in self.parent:
            return {"iteration": 1}
        return {"iteration": self.parent_task_result("Task4")["iteration"] + 1}


class Task2(SelinonTask):
    """One side of the diamond."""

    def run(self, node_args: Any) -> Any:
        return {"iteration": self.parent_task_result("Task1")["iteration"]}


class Task3(SelinonTask):
    """The other side of the diamond."""

    def run(self, node_args: Any) -> Any:
        return {"iteration": self.parent_task_result("Task1")["iteration"]}


class Task4(SelinonTask):
    """The join: runs once per new combination of finished Task2 and Task3."""

    def run(self, node_args: Any) -> Any:
        left = self.parent_task_result("Task2")["iteration"]
        right = self.parent_task_result("Task3")["iteration"]
        return {"iteration": max(left, right)}

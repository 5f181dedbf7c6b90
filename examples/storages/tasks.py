"""Tasks of the storages example, named by ``import: storages.tasks``."""

from __future__ import annotations

from typing import Any

from selinon_core import SelinonTask

PRICES = {"pizza": 8.5, "beer": 3.0, "salad": 6.0}


class ReadOrder(SelinonTask):
    """Normalise the order given as node arguments (result kept in Redis)."""

    def run(self, node_args: Any) -> dict[str, Any]:
        """Return the order id and its ``[item, quantity]`` lines."""
        items = [[str(name), int(quantity)] for name, quantity in node_args.get("items", [])]
        return {"order_id": node_args["order_id"], "items": items}


class PriceOrder(SelinonTask):
    """Price every line of the order read by ``ReadOrder`` (result kept in PostgreSQL)."""

    def run(self, node_args: Any) -> dict[str, Any]:
        """Return the priced lines and the total."""
        order = self.parent_task_result("ReadOrder")
        lines = [
            {"item": name, "quantity": quantity, "amount": PRICES.get(name, 0.0) * quantity}
            for name, quantity in order["items"]
        ]
        return {
            "order_id": order["order_id"],
            "lines": lines,
            "total": sum(line["amount"] for line in lines),
        }


class Receipt(SelinonTask):
    """Render a receipt from the priced order (stored in PostgreSQL as ``receipt``)."""

    def run(self, node_args: Any) -> dict[str, Any]:
        """Return the receipt text."""
        priced = self.parent_task_result("PriceOrder")
        rows = [
            f"{line['quantity']} x {line['item']}: {line['amount']:.2f}" for line in priced["lines"]
        ]
        return {
            "order_id": priced["order_id"],
            "text": "\n".join([*rows, f"total: {priced['total']:.2f}"]),
        }

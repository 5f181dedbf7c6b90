"""Tasks of the dinner example: each one is a few lines of plain Python."""

from typing import Any

from selinon_core import SelinonTask


def _args(node_args: Any) -> dict[str, Any]:
    return node_args if isinstance(node_args, dict) else {}


class BuyEggs(SelinonTask):
    """Buy a dozen eggs."""

    def run(self, node_args: Any) -> Any:
        return {"item": "eggs", "count": 12}


class BuyFlour(SelinonTask):
    """Buy flour; fails when the shop ran out of it (``{"no_flour": true}``)."""

    def run(self, node_args: Any) -> Any:
        if _args(node_args).get("no_flour"):
            raise RuntimeError("the shop ran out of flour")
        return {"item": "flour", "grams": 1000}


class BuyMilk(SelinonTask):
    """Buy milk."""

    def run(self, node_args: Any) -> Any:
        return {"item": "milk", "litres": 1}


class BuyFlower(SelinonTask):
    """Buy a flower (only bought for a romantic dinner)."""

    def run(self, node_args: Any) -> Any:
        return {"item": "rose", "count": 1}


class CheckRecipe(SelinonTask):
    """Look the recipe up; its result is validated against ``schemas/recipe.json``."""

    def run(self, node_args: Any) -> Any:
        return {"name": "pancake pie", "temperature": 180, "ingredients": ["eggs", "flour"]}


class WarmUpOven(SelinonTask):
    """Warm the oven up; a broken oven (``{"oven_broken": true}``) fails after one retry."""

    def run(self, node_args: Any) -> Any:
        if _args(node_args).get("oven_broken"):
            raise RuntimeError("the oven does not heat")
        return None


class MakeDough(SelinonTask):
    """Make the dough following the recipe found by CheckRecipe."""

    def run(self, node_args: Any) -> Any:
        recipe = self.parent_task_result("CheckRecipe")
        return {"dough": "+".join(recipe["ingredients"])}


class Bake(SelinonTask):
    """Bake the dough."""

    def run(self, node_args: Any) -> Any:
        dough = self.parent_task_result("MakeDough")
        return {"baked": dough["dough"]}


class ServePlate(SelinonTask):
    """Serve one plate (one per guest)."""

    def run(self, node_args: Any) -> Any:
        return {"plate": self.task_id}


class OrderPizza(SelinonTask):
    """The fallback: order a pizza."""

    def run(self, node_args: Any) -> Any:
        return {"pizza": "margherita"}


class OrderBeer(SelinonTask):
    """The fallback: order beer."""

    def run(self, node_args: Any) -> Any:
        return None


class CoolBeer(SelinonTask):
    """Put the beer in the fridge (the Fridge storage)."""

    def run(self, node_args: Any) -> Any:
        return {"beer": "cold"}

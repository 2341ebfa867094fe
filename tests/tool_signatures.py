"""A range of tool signatures every provider's declaration is checked with.

Shared by the core's schema tests and each provider's SDK checks, so one list
says what "any plain function" means: primitives, defaults, enums, literals,
optionals, lists, nested models, constraints, ``Annotated`` descriptions, async.
"""

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from rtws.tools import Tool


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str = Field(description="the city")
    zip_code: str | None = None


class Order(BaseModel):
    items: list[str] = Field(min_length=1)
    ship_to: Address
    gift: bool = False


def no_arguments() -> str:
    """What time is it."""
    return "noon"


def get_weather(city: str, unit: Unit = Unit.CELSIUS) -> dict[str, Any]:
    """Current weather in a city.

    Args:
        city: the city's name, e.g. Paris.
        unit: the temperature unit.
    """
    return {"city": city, "unit": unit.value}


def book_table(
    restaurant: str,
    people: Annotated[int, Field(ge=1, le=12, description="how many guests")],
    when: datetime.date,
    seating: Literal["inside", "terrace"] = "inside",
    notes: str | None = None,
) -> str:
    """Book a table.

    Parameters
    ----------
    restaurant : str
        The restaurant's name.
    people : int
        Overridden by the Annotated description.
    """
    return f"{restaurant} {people} {when} {seating} {notes}"


def place_order(
    order: Order, priority: Priority = Priority.LOW, tags: list[str] | None = None
) -> dict[str, Any]:
    """Place an order.

    :param order: what to send where.
    :param priority: how urgent.
    """
    return {"items": len(order.items), "priority": priority.value}


async def lookup(query: str, limit: float = 3.5, exact: bool = False) -> list[str]:
    """Search the catalogue."""
    return [query] * int(limit)


SIGNATURES = [no_arguments, get_weather, book_table, place_order, lookup]
TOOLS = [Tool(fn) for fn in SIGNATURES]

"""A validator for the part of XML Schema that tests/data/junit.xsd is written in (no lxml here).

It reads the schema file itself: global elements, `ref`, `complexType` with `sequence` and `choice` (minOccurs,
maxOccurs), `attribute` (name, type, use), `simpleContent` (text, no children) and `type="xs:string"` elements.
A schema construct it does not know is an error, so the schema cannot say more than is checked.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

XS = "{http://www.w3.org/2001/XMLSchema}"
_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_DATETIME = re.compile(r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?")
_TYPES = {"xs:string": None, "xs:int": _INT, "xs:decimal": _DECIMAL, "xs:dateTime": _DATETIME}


class SchemaError(ValueError):
    """The schema uses something this validator does not check."""


@dataclass
class Particle:
    """An element reference or a choice, with how often it may occur."""

    refs: list[str]  # one name for an element, several for a choice
    min: int
    max: int | None  # None: unbounded


@dataclass
class ElementType:
    name: str
    text: bool = False  # simple content (or xs:string): text allowed, no children
    sequence: list[Particle] = field(default_factory=list)
    attributes: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> (type, required)


def _occurs(node: ET.Element) -> tuple[int, int | None]:
    high = node.get("maxOccurs", "1")
    return int(node.get("minOccurs", "1")), None if high == "unbounded" else int(high)


def _attribute(node: ET.Element, into: ElementType) -> None:
    kind = node.get("type", "xs:string")
    if kind not in _TYPES:
        raise SchemaError(f"attribute type {kind}")
    into.attributes[node.attrib["name"]] = (kind, node.get("use", "optional") == "required")


def _complex(node: ET.Element, into: ElementType) -> None:
    for child in node:
        if child.tag == f"{XS}sequence":
            for item in child:
                low, high = _occurs(item)
                if item.tag == f"{XS}element":
                    into.sequence.append(Particle([item.attrib["ref"]], low, high))
                elif item.tag == f"{XS}choice":
                    into.sequence.append(Particle([option.attrib["ref"] for option in item], low, high))
                else:
                    raise SchemaError(item.tag)
        elif child.tag == f"{XS}attribute":
            _attribute(child, into)
        elif child.tag == f"{XS}simpleContent":
            extension = child.find(f"{XS}extension")
            if extension is None or extension.get("base") != "xs:string" or len(child) != 1:
                raise SchemaError("simpleContent other than an extension of xs:string")
            into.text = True
            for attribute in extension:
                if attribute.tag != f"{XS}attribute":
                    raise SchemaError(attribute.tag)
                _attribute(attribute, into)
        else:
            raise SchemaError(child.tag)


def load_schema(path: Path) -> dict[str, ElementType]:
    root = ET.parse(path).getroot()
    types: dict[str, ElementType] = {}
    for node in root:
        if node.tag is ET.Comment:
            continue
        if node.tag != f"{XS}element":
            raise SchemaError(node.tag)
        element = ElementType(node.attrib["name"])
        if node.get("type") == "xs:string":
            element.text = True
        elif node.get("type") is not None:
            raise SchemaError(f"element type {node.get('type')}")
        for child in node:
            if child.tag != f"{XS}complexType":
                raise SchemaError(child.tag)
            _complex(child, element)
        types[element.name] = element
    return types


def _check_children(element: ET.Element, spec: ElementType, where: str) -> list[str]:
    children = list(element)
    if spec.text:
        return [f"{where}: <{children[0].tag}> inside an element of text only"] if children else []
    if (element.text or "").strip():
        return [f"{where}: text inside <{element.tag}>, which holds elements only"]
    problems: list[str] = []
    position = 0
    for particle in spec.sequence:
        count = 0
        while position < len(children) and children[position].tag in particle.refs:
            if particle.max is not None and count >= particle.max:
                break
            count += 1
            position += 1
        if count < particle.min:
            problems.append(f"{where}: needs at least {particle.min} of {'|'.join(particle.refs)}, has {count}")
    if position < len(children):
        problems.append(f"{where}: <{children[position].tag}> is not allowed there")
    return problems


def validate(document: str, schema: dict[str, ElementType]) -> list[str]:
    """Every way `document` breaks the schema (empty when it is valid)."""
    root = ET.fromstring(document)
    if root.tag not in schema:
        return [f"<{root.tag}> is not a root element of the schema"]
    problems: list[str] = []

    def visit(element: ET.Element, where: str) -> None:
        spec = schema.get(element.tag)
        if spec is None:
            problems.append(f"{where}: unknown element <{element.tag}>")
            return
        for name, (kind, required) in spec.attributes.items():
            value = element.get(name)
            pattern = _TYPES[kind]
            if value is None:
                if required:
                    problems.append(f"{where}: attribute {name} is required")
            elif pattern is not None and not pattern.fullmatch(value):
                problems.append(f"{where}: {name}={value!r} is not an {kind}")
        problems.extend(
            f"{where}: attribute {name} is not declared" for name in set(element.attrib) - set(spec.attributes)
        )
        problems.extend(_check_children(element, spec, where))
        for index, child in enumerate(element):
            visit(child, f"{where}/{child.tag}[{index}]")

    visit(root, root.tag)
    return problems

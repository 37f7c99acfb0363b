"""The one XML serialiser of the OpenSearch documents: the description document and the API's
Atom feed.

Apart from the description because the API's Atom rendering uses it too, and it knows nothing of
OpenSearch: prefixes, a default namespace, and characters XML cannot carry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def to_xml(root: ET.Element, namespaces: Mapping[str, str], default: str | None = None) -> str:
    """Serialise an ElementTree with chosen prefixes and a default namespace.

    ElementTree's own writer takes prefixes from a process-wide registry and refuses a default
    namespace when attributes are unqualified, which every OpenSearch and Atom attribute is; the
    documents must also stay well-formed whatever control characters the metadata carries.
    """
    prefixes = {uri: prefix for prefix, uri in namespaces.items()}

    def qname(name: str, attribute: bool) -> str:
        if not name.startswith("{"):
            return name
        uri, local = name[1:].split("}", 1)
        if uri == default and not attribute:
            return local
        return f"{prefixes[uri]}:{local}"

    def clean(text: str) -> str:
        return _XML_ILLEGAL.sub("", text)

    out: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']

    def write(el: ET.Element, depth: int) -> None:
        pad = "  " * depth
        attrs = ""
        if depth == 0:
            if default is not None:
                attrs += f" xmlns={quoteattr(default)}"
            for prefix, uri in namespaces.items():
                attrs += f" xmlns:{prefix}={quoteattr(uri)}"
        for k, v in el.attrib.items():
            attrs += f" {qname(k, True)}={quoteattr(clean(str(v)))}"
        tag = qname(str(el.tag), False)
        children = list(el)
        text = clean(el.text) if el.text else ""
        if not children and not text:
            out.append(f"{pad}<{tag}{attrs}/>\n")
            return
        if not children:
            out.append(f"{pad}<{tag}{attrs}>{escape(text)}</{tag}>\n")
            return
        out.append(f"{pad}<{tag}{attrs}>{escape(text)}\n")
        for child in children:
            write(child, depth + 1)
        out.append(f"{pad}</{tag}>\n")

    write(root, 0)
    return "".join(out)

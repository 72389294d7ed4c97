"""minischema.py - the subset of JSON Schema 2020-12 that vectors/schemas/*.json use
(python3 stdlib only; used by lint.py).

Supported: type, enum, const, required, properties, additionalProperties (false or a
schema), items, minItems, pattern, minimum, maximum, $ref (to "#/$defs/X" or
"<file>#/$defs/X" in the same directory), allOf, anyOf, oneOf, if/then. Unknown keywords
(title, description, $id, ...) are ignored.
"""
import json
import os
import re

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


class Validator(object):
    def __init__(self, schema_dir):
        self.dir = schema_dir
        self.docs = {}

    def load(self, name):
        if name not in self.docs:
            with open(os.path.join(self.dir, name)) as f:
                self.docs[name] = json.load(f)
        return self.docs[name]

    def _resolve(self, ref, doc_name):
        fname, _, frag = ref.partition("#")
        fname = fname or doc_name
        node = self.load(fname)
        for part in [p for p in frag.split("/") if p]:
            node = node[part]
        return node, fname

    def _type_ok(self, t, x):
        if isinstance(t, list):
            return any(self._type_ok(u, x) for u in t)
        if t == "integer":
            return isinstance(x, int) and not isinstance(x, bool)
        if t == "number":
            return isinstance(x, (int, float)) and not isinstance(x, bool)
        return isinstance(x, _TYPES[t]) and not (t != "boolean" and isinstance(x, bool))

    def errors(self, x, schema, doc, path="$"):
        """A list of 'path: problem' strings (empty when x conforms)."""
        out = []
        if schema is True or schema == {}:
            return out
        if "$ref" in schema:
            sub, sdoc = self._resolve(schema["$ref"], doc)
            out += self.errors(x, sub, sdoc, path)
        if "type" in schema and not self._type_ok(schema["type"], x):
            return out + ["%s: want type %s" % (path, schema["type"])]
        if "const" in schema and x != schema["const"]:
            out.append("%s: want %r" % (path, schema["const"]))
        if "enum" in schema and x not in schema["enum"]:
            out.append("%s: %r not in %r" % (path, x, schema["enum"]))
        if isinstance(x, str) and "pattern" in schema and not re.search(schema["pattern"], x):
            out.append("%s: %r does not match %s" % (path, x, schema["pattern"]))
        if self._type_ok("number", x):
            if "minimum" in schema and x < schema["minimum"]:
                out.append("%s: %r < %r" % (path, x, schema["minimum"]))
            if "maximum" in schema and x > schema["maximum"]:
                out.append("%s: %r > %r" % (path, x, schema["maximum"]))
        if isinstance(x, dict):
            for k in schema.get("required", []):
                if k not in x:
                    out.append("%s: missing %s" % (path, k))
            props = schema.get("properties", {})
            for k, v in x.items():
                if k in props:
                    out += self.errors(v, props[k], doc, "%s.%s" % (path, k))
                elif schema.get("additionalProperties") is False:
                    out.append("%s: unexpected field %s" % (path, k))
                elif isinstance(schema.get("additionalProperties"), dict):
                    out += self.errors(v, schema["additionalProperties"], doc, "%s.%s" % (path, k))
        if isinstance(x, list):
            if len(x) < schema.get("minItems", 0):
                out.append("%s: fewer than %d items" % (path, schema["minItems"]))
            if "items" in schema:
                for i, v in enumerate(x):
                    out += self.errors(v, schema["items"], doc, "%s[%d]" % (path, i))
        for sub in schema.get("allOf", []):
            out += self.errors(x, sub, doc, path)
        if "anyOf" in schema and not any(not self.errors(x, s, doc, path) for s in schema["anyOf"]):
            out.append("%s: matches none of anyOf" % path)
        if "oneOf" in schema:
            n = sum(1 for s in schema["oneOf"] if not self.errors(x, s, doc, path))
            if n != 1:
                out.append("%s: matches %d of oneOf (want 1)" % (path, n))
        if "if" in schema and not self.errors(x, schema["if"], doc, path) and "then" in schema:
            out += self.errors(x, schema["then"], doc, path)
        return out

    def validate(self, x, schema_name):
        return self.errors(x, self.load(schema_name), schema_name)

"""E9061: template text is ASCII only."""

from generator.rules import _common as c


class AsciiOnly(c.ProjectRule):
    id = "E9061"
    shortdesc = "Template text is ASCII"
    description = (
        "Every key and string of the template is ASCII: look-alike characters (non-breaking "
        "spaces, typographic quotes and dashes) break names, patterns and policies silently. "
        "Comments are not parsed and not checked; the generator writes none but its ASCII header."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-formats.html"

    def match(self, cfn):
        found = []
        for text, path in c.walk_strings(cfn.template, []):
            odd = sorted({ch for ch in text if ord(ch) > 127})
            if odd:
                shown = ", ".join(f"U+{ord(ch):04X}" for ch in odd)
                found.append(c.match(path, f"{'/'.join(map(str, path[:2]))}: non-ASCII {shown}"))
        return found

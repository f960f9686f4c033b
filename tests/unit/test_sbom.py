"""image/sbom: the image's SPDX 2.3 JSON bill of materials.

Generated here into a scratch image directory holding some of the files the
image stage writes (the real service binary, stand-ins for the others), and
checked for: the fields SPDX 2.3 requires of a document, a package, a file
and a relationship; unique, well-formed SPDXIDs and relationships that only
name elements of the document; SPDX license identifiers (Debian's
node-spdx-license-ids list); every lock file with its lock checksum; every
patch of ours applied to its component; each image file present with
checksums that match it, and none that is absent; byte-identical output for
the same inputs; the creation time taken from SOURCE_DATE_EPOCH.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SBOM = REPO / "image" / "sbom"
LOCK = REPO / "deps" / "sources.lock"
BULWARK = Path(os.environ.get("BULWARK_BIN") or REPO / "build" / "bin" / "bulwark")
LICENSE_IDS = Path("/usr/share/nodejs/spdx-license-ids/index.json")
EXCEPTION_IDS = Path("/usr/share/nodejs/spdx-exceptions/index.json")
EPOCH = 1767225600  # 2026-01-01T00:00:00Z
SPDXID = re.compile(r"^SPDXRef-[A-Za-z0-9.-]+$")
# SPDX 2.3, clause 11: relationship types
RELATIONSHIP_TYPES = set("""DESCRIBES DESCRIBED_BY CONTAINS CONTAINED_BY DEPENDS_ON DEPENDENCY_OF
DEPENDENCY_MANIFEST_OF BUILD_DEPENDENCY_OF DEV_DEPENDENCY_OF OPTIONAL_DEPENDENCY_OF
PROVIDED_DEPENDENCY_OF TEST_DEPENDENCY_OF RUNTIME_DEPENDENCY_OF EXAMPLE_OF GENERATES GENERATED_FROM
ANCESTOR_OF DESCENDANT_OF VARIANT_OF DISTRIBUTION_ARTIFACT PATCH_FOR PATCH_APPLIED COPY_OF FILE_ADDED
FILE_DELETED FILE_MODIFIED EXPANDED_FROM_ARCHIVE DYNAMIC_LINK STATIC_LINK DATA_FILE_OF TEST_CASE_OF
BUILD_TOOL_OF DEV_TOOL_OF TEST_OF TEST_TOOL_OF DOCUMENTATION_OF OPTIONAL_COMPONENT_OF METAFILE_OF
PACKAGE_OF AMENDS PREREQUISITE_FOR HAS_PREREQUISITE REQUIREMENT_DESCRIPTION_FOR SPECIFICATION_FOR
OTHER""".split())
# the JSON schema's spelling (the spec's tag-value form writes OPERATING-SYSTEM)
PURPOSES = {"APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER", "OPERATING_SYSTEM", "DEVICE", "FIRMWARE",
            "SOURCE", "ARCHIVE", "FILE", "INSTALL", "OTHER"}
FILE_TYPES = {"SOURCE", "BINARY", "ARCHIVE", "APPLICATION", "AUDIO", "IMAGE", "TEXT", "VIDEO",
              "DOCUMENTATION", "SPDX", "OTHER"}
# The properties the SPDX 2.3 JSON schema allows on each object (it sets
# additionalProperties to false), as far as this document can use them.
ALLOWED = {
    "document": {"SPDXID", "annotations", "comment", "creationInfo", "dataLicense", "externalDocumentRefs",
                 "hasExtractedLicensingInfos", "name", "revieweds", "spdxVersion", "documentNamespace",
                 "documentDescribes", "packages", "files", "snippets", "relationships"},
    "creationInfo": {"comment", "created", "creators", "licenseListVersion"},
    "package": {"SPDXID", "annotations", "attributionTexts", "builtDate", "checksums", "comment", "copyrightText",
                "description", "downloadLocation", "externalRefs", "filesAnalyzed", "hasFiles", "homepage",
                "licenseComments", "licenseConcluded", "licenseDeclared", "licenseInfoFromFiles", "name",
                "originator", "packageFileName", "packageVerificationCode", "primaryPackagePurpose",
                "releaseDate", "sourceInfo", "summary", "supplier", "validUntilDate", "versionInfo"},
    "file": {"SPDXID", "annotations", "artifactOfs", "attributionTexts", "checksums", "comment", "copyrightText",
             "fileContributors", "fileDependencies", "fileName", "fileTypes", "licenseComments",
             "licenseConcluded", "licenseInfoInFiles", "noticeText"},
    "relationship": {"spdxElementId", "comment", "relatedSpdxElement", "relationshipType"},
    "annotation": {"annotationDate", "annotationType", "annotator", "comment"},
    "checksum": {"algorithm", "checksumValue"},
    "externalRef": {"comment", "referenceCategory", "referenceLocator", "referenceType"},
    "extractedLicense": {"comment", "crossRefs", "extractedText", "licenseId", "name", "seeAlsos"},
}


def parse_lock():
    comps, cur = {}, None
    for line in LOCK.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "component":
            cur = comps[words[1]] = {"files": {}}
        elif words[0] == "file":
            cur["files"][words[3]] = words[1]
        else:
            cur[words[0]] = words[1]
    return comps


def generate(image_dir, out=None, epoch=EPOCH):
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
    r = subprocess.run([str(SBOM), "--image-dir", str(image_dir)] + (["--out", str(out)] if out else []), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(Path(out or Path(image_dir) / "sbom.spdx.json").read_text())


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    if not BULWARK.is_file():
        pytest.fail("%s not found: ./build.sh" % BULWARK, pytrace=False)
    d = tmp_path_factory.mktemp("image")
    shutil.copyfile(BULWARK, d / "bulwark")
    (d / "bzImage").write_bytes(b"kernel stand-in\n" * 64)
    (d / "disk.raw").write_bytes(b"\0" * 4096)
    (d / "bulwark.debug").write_bytes(b"debug stand-in\n" * 64)
    return d  # no vmlinux, disk.qcow2 or secrets-demo.img: they must not be listed


@pytest.fixture(scope="module")
def doc(image_dir):
    return generate(image_dir, image_dir / "sbom.spdx.json")


def by_id(doc):
    return {e["SPDXID"]: e for e in doc["packages"] + doc["files"]}


def related(doc, a, rel):
    return [r["relatedSpdxElement"] for r in doc["relationships"]
            if r["spdxElementId"] == a and r["relationshipType"] == rel]


def package(doc, name):
    found = [p for p in doc["packages"] if p["name"] == name]
    assert len(found) == 1, name
    return found[0]


def test_document_fields(doc):
    assert doc["spdxVersion"] == "SPDX-2.3"
    assert doc["dataLicense"] == "CC0-1.0"
    assert doc["SPDXID"] == "SPDXRef-DOCUMENT"
    assert doc["name"].startswith("bulwark-image-")
    assert re.match(r"^https://[^\s#]+$", doc["documentNamespace"])
    assert doc["creationInfo"]["created"] == "2026-01-01T00:00:00Z"
    assert any(c.startswith("Tool: ") for c in doc["creationInfo"]["creators"])


def test_no_property_outside_the_schema(doc):
    def allowed(obj, kind):
        extra = set(obj) - ALLOWED[kind]
        assert not extra, (kind, obj.get("SPDXID"), extra)

    allowed(doc, "document")
    allowed(doc["creationInfo"], "creationInfo")
    for p in doc["packages"]:
        allowed(p, "package")
        for c in p.get("checksums", []):
            allowed(c, "checksum")
        for a in p.get("annotations", []):
            allowed(a, "annotation")
        for e in p.get("externalRefs", []):
            allowed(e, "externalRef")
            assert e["referenceCategory"] in ("OTHER", "PERSISTENT-ID", "SECURITY", "PACKAGE-MANAGER")
    for f in doc["files"]:
        allowed(f, "file")
        for c in f["checksums"]:
            allowed(c, "checksum")
    for r in doc["relationships"]:
        allowed(r, "relationship")
    for e in doc.get("hasExtractedLicensingInfos", []):
        allowed(e, "extractedLicense")
        assert e["licenseId"].startswith("LicenseRef-") and e["extractedText"]


def test_packages_and_files_have_the_required_fields(doc):
    for p in doc["packages"]:
        for field in ("SPDXID", "name", "downloadLocation", "versionInfo", "supplier"):
            assert p.get(field), (p.get("SPDXID"), field)
        assert p["filesAnalyzed"] is False  # so no packageVerificationCode is due
        assert p["primaryPackagePurpose"] in PURPOSES
        for c in p.get("checksums", []):
            assert c["algorithm"] == "SHA256" and re.fullmatch(r"[0-9a-f]{64}", c["checksumValue"])
        for a in p.get("annotations", []):
            assert a["annotationType"] in ("REVIEW", "OTHER") and a["annotator"] and a["comment"]
            assert a["annotationDate"] == doc["creationInfo"]["created"]
    for f in doc["files"]:
        assert f["fileName"].startswith("./")
        algos = {c["algorithm"] for c in f["checksums"]}
        assert {"SHA1", "SHA256"} <= algos, f["fileName"]  # SPDX 2.3 requires SHA1 for files
        assert set(f["fileTypes"]) <= FILE_TYPES


def test_spdxids_are_unique_and_well_formed(doc):
    ids = [e["SPDXID"] for e in doc["packages"] + doc["files"]] + [doc["SPDXID"]]
    assert len(ids) == len(set(ids))
    for i in ids:
        assert SPDXID.match(i), i


def test_relationships_name_known_elements(doc):
    known = set(by_id(doc)) | {"SPDXRef-DOCUMENT"}
    for r in doc["relationships"]:
        assert r["relationshipType"] in RELATIONSHIP_TYPES, r
        assert r["spdxElementId"] in known and r["relatedSpdxElement"] in known, r
    described = related(doc, "SPDXRef-DOCUMENT", "DESCRIBES")
    assert described == [package(doc, "bulwark-image")["SPDXID"]]


def test_licenses_are_spdx_identifiers(doc):
    if not LICENSE_IDS.is_file():
        pytest.fail("%s missing: apt-get install node-spdx-license-ids node-spdx-exceptions "
                    "(tests/host-packages.txt)" % LICENSE_IDS, pytrace=False)
    licenses = set(json.loads(LICENSE_IDS.read_text()))
    exceptions = set(json.loads(EXCEPTION_IDS.read_text()))
    extracted = {e["licenseId"] for e in doc.get("hasExtractedLicensingInfos", [])}
    for p in doc["packages"]:
        expr = p["licenseDeclared"]
        if expr == "NOASSERTION":
            continue
        tokens = re.split(r"\s+", expr.replace("(", " ").replace(")", " ").strip())
        for i, t in enumerate(tokens):
            if t in ("AND", "OR"):
                continue
            if i > 0 and tokens[i - 1] == "WITH":
                assert t in exceptions, (p["name"], t)
            elif t != "WITH":
                assert t in licenses or t in extracted, (p["name"], t)
    # what debian/copyright says for Files: * of each component
    assert package(doc, "linux")["licenseDeclared"] == "GPL-2.0-only"
    assert package(doc, "mbedtls")["licenseDeclared"] == "Apache-2.0 OR GPL-2.0-or-later"
    assert package(doc, "h2o")["licenseDeclared"] == "MIT"


def test_every_lock_component_and_file_with_its_checksum(doc):
    ids = by_id(doc)
    service = package(doc, "bulwark")["SPDXID"]
    image = package(doc, "bulwark-image")["SPDXID"]
    for name, comp in parse_lock().items():
        p = package(doc, name)
        assert p["versionInfo"] == comp["version"]
        assert "pkg:deb/debian/%s@" % comp["package"] in p["externalRefs"][0]["referenceLocator"]
        dsc = [f for f in comp["files"] if f.endswith(".dsc")][0]
        assert p["packageFileName"] == dsc
        assert p["checksums"] == [{"algorithm": "SHA256", "checksumValue": comp["files"][dsc]}]
        sources = {ids[s]["packageFileName"]: ids[s]["checksums"][0]["checksumValue"]
                   for s in related(doc, p["SPDXID"], "GENERATED_FROM")}
        assert sources == comp["files"], name
        if name == "linux":
            assert p["SPDXID"] in related(doc, image, "CONTAINS")
        else:
            assert p["SPDXID"] in related(doc, service, "STATIC_LINK")
    assert package(doc, "libgcc")["SPDXID"] in related(doc, service, "STATIC_LINK")


def test_our_patches_are_applied_to_their_component(doc):
    ids = by_id(doc)
    patches = sorted(REPO.glob("deps/patches/*/*.patch"))
    assert patches
    for path in patches:
        comp = path.parent.name
        name = "./" + str(path.relative_to(REPO))
        f = [x for x in doc["files"] if x["fileName"] == name]
        assert len(f) == 1, name
        assert related(doc, f[0]["SPDXID"], "PATCH_APPLIED") == [package(doc, comp)["SPDXID"]]
        sha = {c["algorithm"]: c["checksumValue"] for c in f[0]["checksums"]}
        assert sha["SHA256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert ids[package(doc, comp)["SPDXID"]]["annotations"]


def test_image_files_present_and_only_those(doc, image_dir):
    image = package(doc, "bulwark-image")["SPDXID"]
    listed = {f["fileName"]: f for f in doc["files"] if f["SPDXID"] in related(doc, image, "CONTAINS")}
    assert set(listed) == {"./bulwark", "./bulwark.debug", "./bzImage", "./disk.raw"}
    for name, f in listed.items():
        data = (image_dir / name[2:]).read_bytes()
        sha = {c["algorithm"]: c["checksumValue"] for c in f["checksums"]}
        assert sha == {"SHA1": hashlib.sha1(data).hexdigest(), "SHA256": hashlib.sha256(data).hexdigest()}
    kernel = [f["SPDXID"] for f in doc["files"] if f["fileName"] == "./bzImage"][0]
    assert package(doc, "linux")["SPDXID"] in related(doc, kernel, "GENERATED_FROM")
    debug = [f["SPDXID"] for f in doc["files"] if f["fileName"] == "./bulwark.debug"][0]
    assert related(doc, debug, "GENERATED_FROM") == [package(doc, "bulwark")["SPDXID"]]


def test_deterministic(image_dir, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    generate(image_dir, a)
    generate(image_dir, b)
    assert a.read_bytes() == b.read_bytes()
    later = generate(image_dir, tmp_path / "c.json", epoch=EPOCH + 86400)
    assert later["creationInfo"]["created"] == datetime.fromtimestamp(
        EPOCH + 86400, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert later["documentNamespace"] != json.loads(a.read_text())["documentNamespace"]


def test_default_output_is_in_the_image_dir(image_dir):
    (image_dir / "sbom.spdx.json").unlink()
    generate(image_dir)
    assert (image_dir / "sbom.spdx.json").is_file()

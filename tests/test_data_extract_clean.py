from pathlib import Path

import pytest

from transfer_laws.data import clean
from transfer_laws.data.extract import ExtractError, iter_archive, iter_selected
from transfer_laws.data.spec import load_sources


@pytest.mark.parametrize("name", ["prose", "go", "pkg"])
def test_each_archive_type_is_read(fake_world, name):
    members = dict(iter_archive(fake_world["artifacts"][name]))
    assert members and all(isinstance(v, bytes) for v in members.values())


def test_unknown_archive_type(tmp_path):
    p = tmp_path / "x.rar"
    p.write_bytes(b"?")
    with pytest.raises(ExtractError, match="unknown archive type"):
        list(iter_archive(p))


def test_globs_select_relative_to_root(fake_world):
    go = load_sources(fake_world["spec"])[1]
    paths = [p for p, _ in iter_selected(fake_world["artifacts"]["go"], go)]
    assert "pkg1/testdata/t.go" not in paths  # excluded
    assert any(p.endswith("tool.py") for p in paths)  # selected by the glob...


def test_cleaning_rules(fake_world):
    go = load_sources(fake_world["spec"])[1]
    stats = {}
    docs = list(clean.documents(go.name, go.corpus, go.language, go.reader,
                                iter_selected(fake_world["artifacts"]["go"], go), stats))
    paths = {d.path for d in docs}
    assert not any(p.endswith(".py") for p in paths), "...but Python never enters the code corpus"
    assert "pkg0/gen.go" not in paths and stats["generated"] == 1
    assert stats["wrong extension"] == 1
    py = load_sources(fake_world["spec"])[2]
    stats = {}
    docs = list(clean.documents(py.name, py.corpus, py.language, py.reader,
                                iter_selected(fake_world["artifacts"]["pkg"], py), stats))
    assert stats["not UTF-8"] == 1
    kept = clean.dedupe_exact(docs, stats)
    assert stats["exact duplicate"] == 1 and len(kept) == len(docs) - 1


def test_decode_strips_bom_and_crlf():
    assert clean.decode("\ufeffa\r\nb".encode()) == "a\nb"
    assert clean.decode(b"\xff\xfe") is None


def test_near_duplicates_dropped():
    a = " ".join(f"word{i} is here" for i in range(400))
    docs = [clean.Document("s", p, "text", "", p, t) for p, t in
            [("a", a), ("b", a.replace("word1 ", "WORD1 ")), ("c", a[::-1])]]
    kept = clean.dedupe_near(docs)
    assert [d.path for d in kept] == ["a", "c"]


def test_brown_detokenise():
    raw = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at ''/'' ,/, it/pps did/dod n't/* ./.\n"
    assert clean.detokenise_brown(raw).strip() == 'The jury said "no", it didn\'t.'


def test_groups():
    assert clean.group_of("tf", "transformers/models/bert/modeling.py", "python") == "tf:transformers/models/bert"
    assert clean.group_of("tf", "setup.py", "python") == "tf:."
    assert clean.group_of("b", "ca01", "text") == "b:ca01"

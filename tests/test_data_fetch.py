import pytest

from transfer_laws.data import fetch
from transfer_laws.data.spec import SpecError, load_sources


def test_default_spec_is_valid_and_big_enough():
    sources = load_sources()
    corpora = {s.corpus for s in sources}
    assert corpora == {"text", "code", "python"}
    assert len({s.language for s in sources if s.corpus == "code"}) >= 3


def test_client_commands_use_ordinary_clients(tmp_path):
    by_client = {s.client: s for s in load_sources()}
    assert fetch.client_command(by_client["pip"], tmp_path)[1:4] == ["-m", "pip", "download"]
    assert fetch.client_command(by_client["npm"], tmp_path)[:2] == ["npm", "pack"]
    cmd = fetch.client_command(by_client["apt"], tmp_path)
    assert cmd[:2] == ["apt-get", "download"] and "=" in cmd[-1]


def test_fetch_downloads_once_and_reuses_cache(fake_world, offline_clients, tmp_path):
    sources = load_sources(fake_world["spec"])
    cache = tmp_path / "cache"
    a = fetch.fetch(sources[0], cache, log=lambda *_: None)
    b = fetch.fetch(sources[0], cache, log=lambda *_: None)
    assert a == b and a.read_bytes() == fake_world["artifacts"]["prose"].read_bytes()
    assert offline_clients == ["prose"]


def test_checksum_mismatch_names_source_and_keeps_nothing(fake_world, offline_clients, tmp_path):
    spec = fake_world["spec"]
    spec.write_text(spec.read_text().replace(load_sources(spec)[0].sha256, "0" * 64))
    source = load_sources(spec)[0]
    cache = tmp_path / "cache"
    with pytest.raises(fetch.FetchError, match="'prose': sha256 mismatch"):
        fetch.fetch(source, cache, log=lambda *_: None)
    leftovers = [p for p in (cache / "downloads" / "prose").rglob("*") if p.is_file()]
    assert leftovers == []


def test_vanished_version_is_a_clear_error(fake_world, offline_clients, tmp_path):
    spec = fake_world["spec"]
    spec.write_text(spec.read_text().replace('name = "prose"', 'name = "gone"'))
    with pytest.raises(fetch.FetchError, match="'gone'"):
        fetch.fetch(load_sources(spec)[0], tmp_path, log=lambda *_: None)


@pytest.mark.parametrize("bad, message", [
    ('version = "1.0.0"', 'version = ">=1.0"'),
    ('client = "npm"', 'client = "conda"'),
    ('corpus = "text"', 'corpus = "poetry"'),
])
def test_malformed_spec_entries(fake_world, bad, message):
    spec = fake_world["spec"]
    spec.write_text(spec.read_text().replace(bad, message, 1))
    with pytest.raises(SpecError, match="prose"):
        load_sources(spec)


def test_malformed_toml(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[[source]\nname=")
    with pytest.raises(SpecError, match="malformed TOML"):
        load_sources(p)

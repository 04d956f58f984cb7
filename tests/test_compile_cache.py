"""The command line's persistent compilation cache: where it goes and how to turn it off."""
import jax

from barpo_jax import compile_cache


def test_enable_uses_the_env_dir_and_off_disables(tmp_path, monkeypatch):
    before = jax.config.jax_compilation_cache_dir
    try:
        monkeypatch.setenv(compile_cache.ENV_DIR, str(tmp_path / "xla"))
        assert compile_cache.enable() == str(tmp_path / "xla")
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "xla") and (tmp_path / "xla").is_dir()
        monkeypatch.setenv(compile_cache.ENV_DIR, "off")
        assert compile_cache.enable() is None
        unwritable = tmp_path / "file"
        unwritable.write_text("")
        assert compile_cache.enable(str(unwritable / "xla")) is None
    finally:
        jax.config.update("jax_compilation_cache_dir", before)

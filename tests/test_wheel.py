"""The package builds as a wheel that installs into a clean virtual environment, imports, and whose
console scripts all answer `--help`."""
import configparser
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV_TORCH = "torch==2.13.0"  # the CPU build used for development; see Makefile


def console_scripts():
    cfg = configparser.ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini")
    return [entry.split("=")[0] for entry in cfg["DEFAULT"].get("console_scripts", "").split()]


def run(*args, **kwargs):
    "Run a command; on failure, fail with its output (the traceback of a broken import, for instance)."
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    "Build the wheel and install it (with its requirements) into a fresh virtual environment."
    tmp = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp / "dist"), str(ROOT))
    wheel = next((tmp / "dist").glob("cocogold-*.whl"))
    venv.create(tmp / "venv", with_pip=True)
    bin_dir = tmp / "venv" / "bin"
    run(str(bin_dir / "python"), "-m", "pip", "install", "--quiet", DEV_TORCH)
    run(str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel))
    return bin_dir


def test_wheel_imports(installed_wheel):
    out = run(str(installed_wheel / "python"), "-c", "import cocogold, cocogold.core; print(cocogold.__file__)",
              cwd=installed_wheel)
    assert "site-packages" in out.stdout


@pytest.mark.parametrize("script", console_scripts())
def test_console_script_help(installed_wheel, script):
    out = run(str(installed_wheel / script), "--help")
    assert "usage" in out.stdout.lower()


def test_bundled_files_name_no_path_of_the_machine_that_made_them():
    "A bundled text file (model card, configs) holds no absolute path of a checkout, home or scratch folder."
    import re
    absolute = re.compile(r"(?<![\w.~-])/(?:work|home|root|tmp|Users|mnt)/[\w.-]+")
    found = {}
    for path in (ROOT / "cocogold" / "assets").rglob("*"):
        if path.suffix in {".md", ".json", ".txt", ".yaml", ".yml"}:
            if hits := absolute.findall(path.read_text(errors="ignore")): found[str(path.relative_to(ROOT))] = hits[:3]
    assert not found, found

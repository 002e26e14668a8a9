#!/usr/bin/env bash
# Install JARVIS into ./.venv with every model it needs, and the PortAudio
# library where this script can install system packages.
#
#   scripts/setup.sh           runtime and development dependencies
#   scripts/setup.sh --test    also the system tools the test suite uses
#                              (espeak-ng for a second test voice, PulseAudio
#                              for the virtual microphone and speaker)
set -euo pipefail

cd "$(dirname "$0")/.."
want_test_tools=false
[[ "${1:-}" == "--test" ]] && want_test_tools=true

log() { printf 'setup: %s\n' "$*" >&2; }

install_system_packages() {
    local packages=(libportaudio2)
    $want_test_tools && packages+=(espeak-ng pulseaudio pulseaudio-utils)
    if [[ "$(uname -s)" == "Darwin" ]]; then
        if command -v brew >/dev/null; then
            brew list portaudio >/dev/null 2>&1 || brew install portaudio
        else
            log "Homebrew not found: install PortAudio yourself for microphone use (brew install portaudio)"
        fi
        return
    fi
    if ! command -v apt-get >/dev/null; then
        log "not a Debian-like system: install PortAudio (and for tests espeak-ng, PulseAudio) with your package manager"
        return
    fi
    local missing=()
    for package in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [[ ${#missing[@]} -eq 0 ]] && return
    local sudo=()
    if [[ $EUID -ne 0 ]]; then
        if sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            log "cannot install ${missing[*]} without root; run: sudo apt-get install ${missing[*]}"
            log "everything except the microphone, speaker and some tests works without them"
            return
        fi
    fi
    log "installing system packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    log "Python 3.11 or newer is required"
    exit 1
}

install_python_packages() {
    if [[ ! -x .venv/bin/python ]]; then
        log "creating .venv"
        "$(find_python)" -m venv .venv
    fi
    # llama.cpp is compiled on install. A native build uses every instruction set
    # of the build machine's CPU and crashed on some; this portable x86-64 set works
    # on any CPU with AVX2 (Intel Haswell, AMD Zen and newer).
    if [[ "$(uname -m)" == "x86_64" && -z "${CMAKE_ARGS:-}" ]]; then
        export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
    fi
    # Skip pip when the project's dependency list has not changed since the last install.
    local stamp=.venv/.jarvis-installed
    local digest
    digest="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$digest" ]] && .venv/bin/python -c 'import jarvis' 2>/dev/null; then
        log "Python packages are up to date"
        return
    fi
    log "installing Python packages (the first run compiles llama.cpp: several minutes)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
    echo "$digest" >"$stamp"
}

install_system_packages
install_python_packages
log "done: run .venv/bin/jarvis --help"

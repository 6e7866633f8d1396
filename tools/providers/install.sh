#!/bin/sh
# Registers the stand-in command 1.2.1 and random 4.21.2 plugins in a Pulumi home's plugin cache,
# laid out as the engine's own installs are: plugins/resource-<name>-v<version>/pulumi-resource-<name>,
# with no .partial marker (its presence means "install unfinished" to the engine).
# The executables are symlinks to the launchers here, so the launchers still find this checkout.
# Usage: tools/providers/install.sh [PULUMI_HOME]   (default: $PULUMI_HOME, else ~/.pulumi)
set -eu
here=$(dirname -- "$(readlink -f -- "$0")")
home=${1:-${PULUMI_HOME:-$HOME/.pulumi}}
plugins="$home/plugins"
mkdir -p -- "$plugins"

# install_one NAME VERSION EXECUTABLE
install_one() {
    name=$1
    version=$2
    dir="$plugins/resource-$name-v$version"
    rm -f -- "$dir.partial" "$dir.lock"
    mkdir -p -- "$dir"
    ln -sfn -- "$3" "$dir/pulumi-resource-$name"
    echo "installed resource plugin $name $version -> $dir"
}

install_one command 1.2.1 "$here/command/pulumi-resource-command"
install_one random 4.21.2 "$here/random/pulumi-resource-random"
# Not a stand-in: the SDK's own dynamic-provider plugin (HostProbe), which the official CLI
# archive ships next to pulumi. Registered here rather than found on PATH, which the engine
# would announce with a warning on every run.
install_one pulumi-nodejs 3.248.0 "$here/../../node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"

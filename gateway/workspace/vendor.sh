#!/bin/sh
# Refreshes the workspace's vendored front-end assets from the npm registry (`make vendor`):
# KERN (@kern-ux/native, EUPL-1.2: CSS, fonts, licence), GraphiQL and what its page needs
# (MIT), and axe-core for the browser tests only (MPL-2.0). Nothing is loaded from a CDN at
# run time; the versions are pinned here and updated on purpose.
set -eu

KERN=@kern-ux/native@2.7.2
REACT=react@18.2.0
REACT_DOM=react-dom@18.2.0
GRAPHIQL=graphiql@3.8.3
EXPLORER=@graphiql/plugin-explorer@1.0.2
AXE=axe-core@4.14.1

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
static="$here/static"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unpack() {  # unpack NAME@VERSION into $work/<dir>
    (cd "$work" && npm pack --silent "$1" >/dev/null)
    tarball=$(ls -t "$work"/*.tgz | head -n 1)
    mkdir -p "$work/$2"
    tar xzf "$tarball" -C "$work/$2"
    rm "$tarball"
}

unpack "$KERN" kern
rm -rf "$static/kern"
mkdir -p "$static/kern/fonts/fira-sans"
cp "$work/kern/package/dist/kern.min.css" "$static/kern/"
cp "$work/kern/package/dist/fonts/fira-sans.css" "$static/kern/fonts/"
for font in $(grep -o 'fira-sans/[A-Za-z-]*\.woff2' "$work/kern/package/dist/fonts/fira-sans.css" | sort -u); do
    cp "$work/kern/package/dist/fonts/$font" "$static/kern/fonts/fira-sans/"
done
cp "$work/kern/package/LICENSE.md" "$static/kern/LICENSE.md"
echo "$KERN" > "$static/kern/VERSION"

rm -rf "$static/graphiql"
mkdir -p "$static/graphiql"
unpack "$REACT" react
cp "$work/react/package/umd/react.production.min.js" "$static/graphiql/"
cp "$work/react/package/LICENSE" "$static/graphiql/LICENSE.react"
unpack "$REACT_DOM" react-dom
cp "$work/react-dom/package/umd/react-dom.production.min.js" "$static/graphiql/"
unpack "$GRAPHIQL" graphiql
cp "$work/graphiql/package/graphiql.min.js" "$work/graphiql/package/graphiql.min.css" "$static/graphiql/"
cp "$work/graphiql/package/LICENSE" "$static/graphiql/LICENSE.graphiql"
unpack "$EXPLORER" explorer
cp "$work/explorer/package/dist/index.umd.js" "$static/graphiql/plugin-explorer.umd.js"
cp "$work/explorer/package/dist/style.css" "$static/graphiql/plugin-explorer.css"
printf '%s\n' "$REACT" "$REACT_DOM" "$GRAPHIQL" "$EXPLORER" > "$static/graphiql/VERSION"

unpack "$AXE" axe
mkdir -p "$root/tests/browser/vendor"
cp "$work/axe/package/axe.min.js" "$root/tests/browser/vendor/"
cp "$work/axe/package/LICENSE" "$root/tests/browser/vendor/LICENSE.axe-core"
echo "$AXE" > "$root/tests/browser/vendor/VERSION"
echo "vendored $KERN, $GRAPHIQL (with $REACT, $REACT_DOM, $EXPLORER) and $AXE"

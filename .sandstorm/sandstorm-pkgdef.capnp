@0xf2ff71e98816bcd1;
# Soirée's Sandstorm package definition.
#
# vagrant-spk and spk read this file as .sandstorm/sandstorm-pkgdef.capnp; the copy at the
# repository root is a symlink to it. Relative paths (embedded files, sourceMap) resolve from
# .sandstorm/. The schema ships with Sandstorm: /opt/sandstorm/latest/usr/include/sandstorm/.

using Spk = import "/sandstorm/package.capnp";

const pkgdef :Spk.PackageDefinition = (
  # The app ID is the public key that signs packages. This one has no private key anywhere:
  # run `vagrant-spk keygen` and put the ID it prints here before the first `vagrant-spk dev`.
  id = "275xq8c1mu2guvd8vm3nka0eegan14a4tg5zsq1r141emdjg2qxh",

  manifest = (
    appTitle = (defaultText = "Soirée"),
    appVersion = 0,  # increase with every release; Sandstorm upgrades grains to higher versions
    appMarketingVersion = (defaultText = "0.1.0"),

    actions = [
      ( nounPhrase = (defaultText = "party"),
        command = .command ),
    ],
    continueCommand = .command,

    metadata = (
      icons = (
        appGrid = (svg = embed "app-graphics/soiree-128.svg"),
        grain = (svg = embed "app-graphics/soiree-24.svg"),
        market = (svg = embed "app-graphics/soiree-150.svg"),
        marketBig = (svg = embed "app-graphics/soiree-300.svg"),
      ),
      license = (openSource = mit),
      categories = [games],
      # Before publishing to the App Market, add contactEmail and a pgpSignature
      # (`spk publish`; https://docs.sandstorm.io/en/latest/developing/publishing-apps/).
      author = (upstreamAuthor = "The Soirée contributors"),
      shortDescription = (defaultText = "V-Sekai party server"),
      description = (defaultText = embed "description.md"),
    ),
  ),

  sourceMap = (
    searchPath = [
      ( sourcePath = "." ),
      ( sourcePath = "/",
        hidePaths = [ "home", "proc", "sys",
                      "etc/passwd", "etc/hosts", "etc/host.conf",
                      "etc/nsswitch.conf", "etc/resolv.conf",
                      # The repository is synced to /opt/app: keep a developer's own files out.
                      "opt/app/.git", "opt/app/.venv", "opt/app/var", "opt/app/.cache",
                      "opt/app/tests", "opt/app/bench" ] ),
    ],
  ),

  # Written by `vagrant-spk dev` (every file the grain opened); review and commit it.
  fileList = "sandstorm-files.list",

  # Directories read lazily at run time, which file tracing could miss.
  alwaysInclude = [
    "opt/app/app", "opt/app/common", "opt/app/relay", "opt/app/uro-shim", "opt/app/launcher.sh",
    "opt/app/godot",         # zipped for the player page's download when someone asks for it
    "opt/app-venv",          # the virtualenv: Python imports modules lazily
    "opt/cockroach",         # CockroachDB, its GEOS libraries and its licence files
    "usr/lib/python3.11",    # the standard library, for the same reason as the virtualenv
    "usr/share/zoneinfo",    # CockroachDB needs tzdata
  ],

  bridgeConfig = (
    viewInfo = (
      # Permission IDs are list positions: only ever append to this list.
      permissions = [
        ( name = "host",
          title = (defaultText = "host"),
          description = (defaultText = "run the party: dashboard, invitations and moderation") ),
        ( name = "play",
          title = (defaultText = "play"),
          description = (defaultText = "join the party with a V-Sekai client") ),
      ],
      roles = [
        ( title = (defaultText = "host"),
          permissions = [true, true],
          verbPhrase = (defaultText = "can run the party"),
          description = (defaultText = "Hosts see the dashboard, invite players and moderate.") ),
        ( title = (defaultText = "player"),
          permissions = [false, true],
          verbPhrase = (defaultText = "can join the party"),
          description = (defaultText = "Players join the party from their V-Sekai client."),
          default = true ),
      ],
    ),
    # API-token requests (Godot clients) reach the app with their paths unchanged: /api/v1/...
    # and /relay. It must end with "/" (docs/sandstorm.md §Package definition).
    apiPath = "/",
    saveIdentityCaps = false,
  ),
);

const command :Spk.Manifest.Command = (
  argv = ["/sandstorm-http-bridge", "8000", "--", "/bin/bash", "/opt/app/.sandstorm/launcher.sh"],
  # The whole environment: nothing else is set inside a grain.
  environ = [
    (key = "PATH", value = "/usr/local/bin:/usr/bin:/bin"),
    (key = "SANDSTORM", value = "1"),
    (key = "HOME", value = "/var"),  # a grain has no /etc/passwd to find a home in
    (key = "LANG", value = "C.UTF-8"),
  ],
);

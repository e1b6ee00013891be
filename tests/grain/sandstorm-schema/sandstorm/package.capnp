@0xbde7c55a051066fe;
# A subset of Sandstorm's package schema, written for this project's offline checks.
#
# Sandstorm's own schema files are in no package registry (docs/sandstorm.md §Package definition),
# so the tests compile the package definition against this file instead: the struct, field and
# enum names, field numbers and types of the parts our package definition uses, as Sandstorm's
# src/sandstorm/package.capnp and grain.capnp define them. It catches misspelt fields, wrong types
# and missing embedded files.
# Members we never set are typed AnyPointer. The authoritative check is `spk pack` and
# `vagrant-spk verify`, with the real schema, in the vagrant-spk VM.

struct LocalizedText {
  defaultText @0 :Text;
  localizations @1 :List(Localization);
  struct Localization {
    locale @0 :Text;
    text @1 :Text;
  }
}

struct KeyValue {
  key @0 :Text;
  value @1 :Text;
}

struct PackageDefinition {
  id @0 :Text;
  manifest @1 :Manifest;
  sourceMap @2 :SourceMap;
  fileList @3 :Text;
  alwaysInclude @4 :List(Text);
  bridgeConfig @5 :BridgeConfig;
}

struct Manifest {
  appTitle @7 :LocalizedText;
  appVersion @4 :UInt32;
  minUpgradableAppVersion @5 :UInt32;
  appMarketingVersion @6 :LocalizedText;
  minApiVersion @0 :UInt32;
  maxApiVersion @1 :UInt32;
  metadata @8 :Metadata;
  actions @2 :List(Action);
  continueCommand @3 :Command;

  struct Command {
    deprecatedExecutablePath @0 :Text;
    argv @1 :List(Text);
    environ @2 :List(KeyValue);
  }

  struct Action {
    input :union {
      none @0 :Void;
      capability @1 :AnyPointer;
    }
    command @2 :Command;
    title @3 :LocalizedText;
    description @4 :LocalizedText;
    nounPhrase @5 :LocalizedText;
  }
}

struct SourceMap {
  searchPath @0 :List(Mapping);
  struct Mapping {
    packagePath @0 :Text;
    sourcePath @1 :Text;
    hidePaths @2 :List(Text);
  }
}

struct BridgeConfig {
  viewInfo @0 :ViewInfo;
  apiPath @1 :Text;
  saveIdentityCaps @2 :Bool;
  powerboxApis @3 :AnyPointer;
  expectAppHooks @4 :Bool;
}

struct ViewInfo {
  permissions @0 :List(PermissionDef);
  roles @1 :List(RoleDef);
  deniedPermissions @2 :List(Bool);
  matchRequests @3 :AnyPointer;
  matchOffers @4 :AnyPointer;
  appTitle @5 :LocalizedText;
  grainIcon @6 :AnyPointer;
  eventTypes @7 :AnyPointer;
}

struct PermissionDef {
  name @3 :Text;
  title @0 :LocalizedText;
  description @1 :LocalizedText;
  obsolete @2 :Bool;
}

struct RoleDef {
  title @0 :LocalizedText;
  verbPhrase @1 :LocalizedText;
  description @2 :LocalizedText;
  permissions @3 :List(Bool);
  obsolete @4 :Bool;
  default @5 :Bool;
}

struct Metadata {
  icons :group {
    appGrid @0 :Icon;
    grain @1 :Icon;
    market @2 :Icon;
    marketBig @18 :Icon;
  }
  website @3 :Text;
  codeUrl @4 :Text;
  license :group {
    union {
      none @5 :Void;
      openSource @6 :OpenSourceLicense;
      proprietary @7 :LocalizedText;
      publicDomain @8 :LocalizedText;
    }
    notices @9 :LocalizedText;
  }
  categories @10 :List(Category);
  author :group {
    upstreamAuthor @19 :Text;
    contactEmail @11 :Text;
    pgpSignature @12 :Data;
  }
  pgpKeyring @13 :Data;
  description @14 :LocalizedText;
  shortDescription @15 :LocalizedText;
  screenshots @16 :AnyPointer;
  changeLog @17 :LocalizedText;

  struct Icon {
    union {
      svg @0 :Text;
      png @1 :AnyPointer;
    }
  }
}

# Enums list only the values this package uses: the text format refers to them by name.
enum OpenSourceLicense {
  mit @0;
}

enum Category {
  games @0;
}

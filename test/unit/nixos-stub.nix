# A stand-in for the nixpkgs flake input, so the unit tests can evaluate flake.nix and the NixOS
# modules without nixpkgs (it cannot be fetched here). It implements what our modules use, the way
# nixpkgs' lib/modules.nix does: imports, option declarations with defaults (priority 1500),
# mkIf / mkMerge / mkDefault (1000) / mkForce (50), the highest priority winning, lists
# concatenated, attribute sets merged, and a type check of our own options. Options that nixpkgs
# declares are merged as plain values (a leaf nobody defines is null), except the few in
# `nixpkgsModules` whose defaults decide which ports a host opens.
let
  inherit (builtins)
    all any attrNames concatLists elem elemAt filter foldl' genList head isAttrs isBool isFunction
    isInt isList isPath isString length listToAttrs mapAttrs removeAttrs stringLength substring
    ;

  concatMap = f: list: concatLists (map f list);
  genAttrs = names: f: listToAttrs (map (name: { inherit name; value = f name; }) names);
  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];
  showPath = path: builtins.concatStringsSep "." path;
  propertyType = d: if isAttrs d then d._type or null else null;

  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOption = attrs: attrs // { _type = "option"; };
  isOption = x: propertyType x == "option";

  type = name: check: extra: { _type = "type"; inherit name check; } // extra;
  types = rec {
    str = type "str" isString { };
    int = type "int" isInt { };
    bool = type "bool" isBool { };
    port = type "port" (v: isInt v && v >= 0 && v <= 65535) { };
    # Our stub packages are strings; nixpkgs accepts a derivation here as well.
    path = type "path" (v: isPath v || isString v) { };
    nullOr = t: type "nullOr" (v: v == null || t.check v) { };
    listOf = t: type "listOf" (v: isList v && all t.check v) { };
    attrsOf = t: type "attrsOf" (v: isAttrs v && all (n: t.check v.${n}) (attrNames v)) { };
    enum = values: type "enum" (v: elem v values) { };
  };

  lib = {
    inherit mkIf mkMerge mkOverride mkOption types genAttrs;
    mkDefault = mkOverride 1000;
    mkForce = mkOverride 50;
    mkEnableOption = name: mkOption { type = types.bool; default = false; description = "Whether to enable ${name}."; };
    literalMD = text: { _type = "literalMD"; inherit text; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    filterAttrs = pred: set: listToAttrs (filter (x: pred x.name x.value) (map (name: { inherit name; value = set.${name}; }) (attrNames set)));
    mapAttrs = mapAttrs;
    mapAttrsToList = f: set: map (name: f name set.${name}) (attrNames set);
    concatStrings = builtins.concatStringsSep "";
    attrValues = set: map (name: set.${name}) (attrNames set);
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    inherit nixosSystem;
  };

  # Packages the modules and the dev shell use: one place to check them against nixpkgs.
  packageNames = [
    "git" "vim" "tmux" "gcc" "gnumake" "nodejs_22" "python3" "jq" "ripgrep" "postgresql_16"
    "pulumi" "openssh" "shellcheck" "nixos-rebuild" "nixfmt-tree"
  ];
  pkgs = genAttrs packageNames (name: "/nix/store/stub-${name}") // {
    writeTextDir = name: text: "/nix/store/stub-writeTextDir-${name}";
    mkShell = args: { shell = true; inherit (args) packages; };
  };

  # Imports below modulesPath are nixpkgs' own modules: recorded, not read.
  modulesPath = "/nixpkgs/nixos/modules";
  isExternal = m: isString m && substring 0 (stringLength modulesPath) m == modulesPath;

  # The nixpkgs options whose defaults our modules depend on (open ports, the dump directory), with
  # what nixpkgs does with them.
  nixpkgsModules = [
    # nixos/modules/services/networking/ssh/sshd.nix: openFirewall defaults to true, opens cfg.ports.
    ({ config, ... }: let cfg = config.services.openssh; in {
      options.services.openssh.openFirewall = mkOption { type = types.bool; default = true; };
      options.services.openssh.ports = mkOption { type = types.listOf types.port; default = [ 22 ]; };
      config.networking.firewall.allowedTCPPorts = mkIf (cfg.enable == true && cfg.openFirewall) cfg.ports;
    })
    # nixos/modules/services/network-filesystems/samba.nix: TCP 139 445, UDP 137 138.
    ({ config, ... }: let cfg = config.services.samba; in {
      options.services.samba.openFirewall = mkOption { type = types.bool; default = false; };
      # package defaults to pkgs.samba (smbpasswd is in its bin/).
      options.services.samba.package = mkOption { type = types.path; default = "/nix/store/stub-samba"; };
      config.networking.firewall = mkIf (cfg.enable == true && cfg.openFirewall) {
        allowedTCPPorts = [ 139 445 ];
        allowedUDPPorts = [ 137 138 ];
      };
    })
    # nixos/modules/services/networking/xrdp.nix: opens cfg.port (3389).
    ({ config, ... }: let cfg = config.services.xrdp; in {
      options.services.xrdp.openFirewall = mkOption { type = types.bool; default = false; };
      options.services.xrdp.port = mkOption { type = types.port; default = 3389; };
      config.networking.firewall.allowedTCPPorts = mkIf (cfg.enable == true && cfg.openFirewall) [ cfg.port ];
    })
    # nixos/modules/services/monitoring/prometheus/exporters.nix (node: port 9100).
    ({ config, ... }: let cfg = config.services.prometheus.exporters.node; in {
      options.services.prometheus.exporters.node.openFirewall = mkOption { type = types.bool; default = false; };
      options.services.prometheus.exporters.node.port = mkOption { type = types.port; default = 9100; };
      config.networking.firewall.allowedTCPPorts = mkIf (cfg.enable == true && cfg.openFirewall) [ cfg.port ];
    })
    # nixos/modules/services/backup/postgresql-backup.nix: where the dumps go.
    {
      options.services.postgresqlBackup.location = mkOption { type = types.str; default = "/var/backup/postgresql"; };
    }
  ];

  # A definition's own value with its properties applied: a list of { prio, value }.
  expand = prio: d:
    let t = propertyType d; in
    if t == "merge" then concatMap (expand prio) d.contents
    else if t == "if" then (if d.condition then expand prio d.content else [ ])
    else if t == "override" then expand d.priority d.content
    else [ { inherit prio; value = d; } ];

  # Properties pushed into the attributes of an attribute-set definition, without evaluating any
  # condition (lib/modules.nix pushDownProperties): attribute names never depend on config.
  pushDown = d:
    let t = propertyType d; in
    if t == "merge" then concatMap pushDown d.contents
    else if t == "if" then map (mapAttrs (_: v: mkIf d.condition v)) (pushDown d.content)
    else if t == "override" then map (mapAttrs (_: v: mkOverride d.priority v)) (pushDown d.content)
    else [ d ];

  # tryEval: a value that throws (a required option read under a false mkIf) is a leaf, and the
  # throw surfaces only if that leaf is used.
  isAttrsDef = d:
    let t = builtins.tryEval (propertyType d); in
    if !t.success then false
    else if t.value == "merge" then any isAttrsDef d.contents
    else if t.value == "if" || t.value == "override" then isAttrsDef d.content
    else isAttrs d && t.value == null;

  highest = path: all':
    let top = foldl' (m: d: if d.prio < m then d.prio else m) 9999 all'; in
    map (d: d.value) (filter (d: d.prio == top) all');

  mergeValues = path: values:
    if all isList values then concatLists values
    else if length (unique values) == 1 then head values
    else throw "The option `${showPath path}' has conflicting definition values.";

  evalOption = path: opt: defs:
    let
      all' = (if opt ? default then [ { prio = 1500; value = opt.default; } ] else [ ]) ++ concatMap (expand 100) defs;
      values = highest path all';
      merged =
        if opt.type.name or "" == "attrsOf" then foldl' (a: b: a // b) { } values
        else mergeValues path values;
    in
    if length all' == 0 then throw "The option `${showPath path}' was accessed but has no value defined. Try setting the option."
    else if opt ? type && !(opt.type.check merged) then throw "The option `${showPath path}' is not of type ${opt.type.name}."
    else merged;

  mergeDecls = decls:
    let names = unique (concatMap attrNames decls); in
    genAttrs names (n:
      let ds = map (d: d.${n}) (filter (d: d ? ${n}) decls); in
      if isOption (head ds) then (if length ds > 1 then throw "option ${n} declared twice" else head ds)
      else mergeDecls ds);

  # `decl` is the declared options below `path` (null where nothing is declared).
  mergeConfig = path: decl: defs:
    if isOption decl then evalOption path decl defs
    else if decl == null && !(defs != [ ] && all isAttrsDef defs) then
      (let values = highest path (concatMap (expand 100) defs); in if values == [ ] then null else mergeValues path values)
    else
      let
        pushed = concatMap pushDown defs;
        defined = unique (concatMap attrNames pushed);
        declared = if decl == null then [ ] else attrNames decl;
        # Our own namespace is closed, as in NixOS: a misspelt option is an error, not a no-op.
        strict = path != [ ] && head path == "homeServer";
        unknown = filter (n: !(elem n declared)) defined;
      in
      if strict && unknown != [ ] then throw "The option `${showPath (path ++ [ (head unknown) ])}' does not exist."
      else genAttrs (unique (declared ++ defined)) (n:
        mergeConfig (path ++ [ n ]) (if decl != null && decl ? ${n} then decl.${n} else null)
          (map (p: p.${n}) (filter (p: p ? ${n}) pushed)));

  evalModules = modules:
    let
      args = { inherit config lib pkgs modulesPath; options = declared; };
      load = key: m:
        if isExternal m then { key = m; external = true; imports = [ ]; options = { }; config = { }; }
        else
          let
            f = if isPath m || isString m then import m else m;
            v = if isFunction f then f args else f;
            structured = v ? options || v ? config;
          in {
            key = if isPath m || isString m then toString m else key;
            external = false;
            imports = v.imports or [ ];
            options = v.options or { };
            config = if structured then v.config or { } else removeAttrs v [ "imports" ];
          };
      collect = parent: ms: concatLists (genList (i:
        let m = load "${parent}:${toString i}" (elemAt ms i); in [ m ] ++ collect m.key m.imports) (length ms));
      mods = (foldl' (acc: m: if acc.seen ? ${m.key} then acc else { seen = acc.seen // { ${m.key} = true; }; list = acc.list ++ [ m ]; })
        { seen = { }; list = [ ]; } (collect "<root>" (nixpkgsModules ++ modules))).list;
      declared = mergeDecls (map (m: m.options) mods);
      config = mergeConfig [ ] declared (map (m: m.config) mods);
    in
    {
      inherit config;
      files = map (m: m.key) (filter (m: !m.external && substring 0 1 m.key == "/") mods);
      external = map (m: m.key) (filter (m: m.external) mods);
    };

  nixosSystem = args: evalModules args.modules // { hasSystemArgument = args ? system; };
in
{
  inherit lib pkgs;
  nixpkgs = {
    inherit lib;
    legacyPackages = genAttrs [ "x86_64-linux" "aarch64-linux" ] (_: pkgs);
  };
}

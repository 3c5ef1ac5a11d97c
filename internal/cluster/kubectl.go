package cluster

import (
	"strings"
)

// KubectlReadOnly lists the kubectl commands (verb, or "verb sub-verb") that never
// change a cluster. Every other command, a plugin or a verb kubectl adds later
// included, is guarded on protected clusters: the list is explicit, so that
// nothing new slips through. TestKubectlCommandsAreClassified walks every
// command of the pinned kubectl and fails on one that is in neither list.
var KubectlReadOnly = map[string]bool{
	"get": true, "describe": true, "logs": true, "explain": true, "events": true,
	"api-resources": true, "api-versions": true, "version": true, "options": true, "help": true,
	"completion": true, "kustomize": true, "wait": true,
	// diff applies with a server-side dry run: nothing is persisted.
	"diff":         true,
	"cluster-info": true, "cluster-info dump": true,
	"top": true, "top node": true, "top pod": true,
	"auth can-i": true, "auth whoami": true,
	"rollout history": true, "rollout status": true,
	"apply view-last-applied": true,
	"plugin list":             true,
	// config reads or edits only the temporary kubeconfig kube writes; its read
	// commands are listed, the others are guarded like everything else.
	"config current-context": true, "config get-clusters": true, "config get-contexts": true,
	"config get-users": true, "config view": true,
	// kuberc manages the user's own kubectl preferences file.
	"kuberc view": true,
}

// KubectlMutating lists the kubectl commands known to change something (or to
// reach inside workloads: exec, cp, port-forward, proxy). The guard does not
// need it (what is not read-only is guarded); the test does, to notice commands
// nobody has classified yet.
var KubectlMutating = map[string]bool{
	"create": true, "expose": true, "run": true, "set": true, "edit": true, "delete": true,
	"replace": true, "patch": true, "label": true, "annotate": true, "scale": true, "autoscale": true,
	"apply": true, "apply edit-last-applied": true, "apply set-last-applied": true,
	"rollout": true, "rollout pause": true, "rollout restart": true, "rollout resume": true, "rollout undo": true,
	"certificate": true, "certificate approve": true, "certificate deny": true,
	"cordon": true, "uncordon": true, "drain": true, "taint": true,
	"attach": true, "exec": true, "cp": true, "port-forward": true, "proxy": true, "debug": true,
	"auth": true, "auth reconcile": true,
	"alpha": true, "plugin": true,
	"config": true, "config delete-cluster": true, "config delete-context": true, "config delete-user": true,
	"config rename-context": true, "config set": true, "config set-cluster": true, "config set-context": true,
	"config set-credentials": true, "config unset": true, "config use-context": true,
	"kuberc": true, "kuberc set": true,
}

// kubectlGlobalValueFlags are kubectl's global flags that take a value as the
// next argument; they are skipped when looking for the verb. The test checks
// this list against `kubectl options` of the pinned kubectl.
var kubectlGlobalValueFlags = map[string]bool{
	"--as": true, "--as-group": true, "--as-uid": true, "--as-user-extra": true, "--cache-dir": true,
	"--certificate-authority": true, "--client-certificate": true, "--client-key": true,
	"--cluster": true, "--context": true, "--kubeconfig": true, "--kuberc": true,
	"--log-flush-frequency": true, "-n": true, "--namespace": true, "--password": true,
	"--profile": true, "--profile-output": true, "--proxy-url": true, "--request-timeout": true, "-s": true,
	"--server": true, "--tls-server-name": true, "--token": true, "--user": true,
	"--username": true, "-v": true, "--v": true, "--vmodule": true,
}

// kubectlShorthandValues are the one-letter flags of kubectl's commands that
// take the next argument as their value (-f FILE, -l SELECTOR, -o FORMAT, ...).
// Other one-letter flags (-A, -w, -it) take none.
var kubectlShorthandValues = map[string]bool{
	"-f": true, "-l": true, "-o": true, "-c": true, "-p": true, "-k": true, "-L": true,
}

// KubectlCommand finds kubectl's command in its arguments: the verb, followed by
// the sub-verb when the verb has sub-commands. ok is false when the arguments
// cannot be read with certainty (a long flag unknown to kube, which may take the
// next word as its value, before the command): the caller must then treat the
// command as one that changes the cluster.
func KubectlCommand(args []string) (command string, ok bool) {
	var words []string
	unsure := false
	for i := 0; i < len(args) && len(words) < 2; i++ {
		a := args[i]
		switch {
		case a == "--":
			i = len(args)
		case !strings.HasPrefix(a, "-") || a == "-":
			words = append(words, a)
			if len(words) == 1 && !hasSubcommands(a) {
				return a, !unsure
			}
		case strings.Contains(a, "="):
		case kubectlGlobalValueFlags[a] || kubectlShorthandValues[a]:
			i++ // its value
		case !strings.HasPrefix(a, "--"):
			// A one-letter flag without a value.
		default:
			unsure = true
		}
	}
	return strings.Join(words, " "), !unsure && len(words) > 0
}

// hasSubcommands tells whether a kubectl verb's next word is a sub-verb.
func hasSubcommands(verb string) bool {
	for k := range KubectlReadOnly {
		if strings.HasPrefix(k, verb+" ") {
			return true
		}
	}
	for k := range KubectlMutating {
		if strings.HasPrefix(k, verb+" ") {
			return true
		}
	}
	return false
}

// KubectlIsReadOnly tells whether kubectl with these arguments only reads.
func KubectlIsReadOnly(args []string) bool {
	cmd, ok := KubectlCommand(args)
	return ok && KubectlReadOnly[cmd]
}

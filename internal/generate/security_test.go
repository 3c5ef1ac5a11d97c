package generate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/spec"
)

// victimContent marks a file outside the repository; it must never appear in
// anything kube generate prints or writes.
const victimContent = "VICTIM-3f9c: apiVersion: v1\nclient-key-data: c2VjcmV0\n"

// hostileRepo lays out <tmp>/victim/kubeconfig (outside) and <tmp>/repo with a
// spec; it returns the repository and the victim file.
func hostileRepo(t *testing.T, specText string) (repo, victim string) {
	t.Helper()
	base := t.TempDir()
	repo = filepath.Join(base, "repo")
	victim = filepath.Join(base, "victim", "kubeconfig")
	for _, d := range []string{repo, filepath.Dir(victim)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(victim, []byte(victimContent), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, spec.FileName), []byte(specText), 0o644); err != nil {
		t.Fatal(err)
	}
	return repo, victim
}

// assertNoLeak checks that the victim was neither shown nor changed.
func assertNoLeak(t *testing.T, r *Report, victim string) {
	t.Helper()
	out, _ := json.Marshal(r)
	if strings.Contains(string(out)+r.Error, "VICTIM-3f9c") {
		t.Errorf("the report shows the content of a file outside the repository:\n%s", out)
	}
	if data, err := os.ReadFile(victim); err != nil || string(data) != victimContent {
		t.Errorf("the file outside the repository was changed: %q, %v", data, err)
	}
}

const renamedByPatch = `app: api
generates:
- serviceAccount:
    clusters: [sandbox]
    patches:
    - kind: ServiceAccount
      json:
      - {op: replace, path: /metadata/name, value: "x/../../../../victim/kubeconfig"}
`

// A patch that turns an object's name into a path is refused in check and in
// update mode, and the file it points at is neither shown nor overwritten.
func TestPatchedNameCannotLeaveTheRepository(t *testing.T) {
	for _, update := range []bool{false, true} {
		repo, victim := hostileRepo(t, renamedByPatch)
		// Check mode would show the victim in a "changed" diff if it read it.
		link := filepath.Join(repo, OutputDir, "sandbox")
		if err := os.MkdirAll(link, 0o755); err != nil {
			t.Fatal(err)
		}
		r := Repo(repo, "", update)
		if r.Err == nil || !strings.Contains(r.Error, `ServiceAccount name "x/../../../../victim/kubeconfig" is not a valid object name`) ||
			!strings.Contains(r.Error, "kube-generate.yaml:3:3") {
			t.Fatalf("update=%v: Repo() error = %v", update, r.Err)
		}
		assertNoLeak(t, r, victim)
		// The same through fleet mode.
		for _, fr := range Fleet([]string{repo}, update) {
			if fr.Err == nil {
				t.Fatalf("fleet: no error")
			}
			assertNoLeak(t, fr, victim)
		}
	}
}

// A kind changed by a patch is part of the file name too.
func TestPatchedKindCannotLeaveTheRepository(t *testing.T) {
	repo, victim := hostileRepo(t, `app: api
generates:
- serviceAccount:
    clusters: [sandbox]
    patches:
    - kind: ServiceAccount
      json:
      - {op: replace, path: /kind, value: "../../../victim/x"}
`)
	r := Repo(repo, "", true)
	if r.Err == nil || !strings.Contains(r.Error, `kind "../../../victim/x" is not a Kubernetes kind`) {
		t.Fatalf("Repo() error = %v", r.Err)
	}
	assertNoLeak(t, r, victim)
}

// A repository whose kubernetes/ or kubernetes/<cluster>/ is a symbolic link out
// of it is refused before anything is read or written.
func TestLinkedOutputDirectoryIsRefused(t *testing.T) {
	for _, linked := range []string{OutputDir, OutputDir + "/sandbox"} {
		for _, update := range []bool{false, true} {
			repo, victim := hostileRepo(t, "app: kubeconfig\ngenerates:\n- serviceAccount: {clusters: [sandbox]}\n")
			// kubernetes/sandbox/serviceaccount-kubeconfig.yaml would be the victim.
			if err := os.Rename(victim, filepath.Join(filepath.Dir(victim), "serviceaccount-kubeconfig.yaml")); err != nil {
				t.Fatal(err)
			}
			victim = filepath.Join(filepath.Dir(victim), "serviceaccount-kubeconfig.yaml")
			target := filepath.Dir(victim)
			if linked == OutputDir {
				// kubernetes -> a directory holding sandbox/ -> the victim.
				target = filepath.Join(filepath.Dir(victim), "..", "tree")
				if err := os.MkdirAll(target, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Dir(victim), filepath.Join(target, "sandbox")); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, linked)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(repo, linked)); err != nil {
				t.Fatal(err)
			}
			r := Repo(repo, "", update)
			if r.Err == nil || !strings.Contains(r.Error, "is a symbolic link") {
				t.Fatalf("%s, update=%v: Repo() = %+v", linked, update, r)
			}
			assertNoLeak(t, r, victim)
		}
	}
}

// configMap files: a symbolic link out of the repository is refused (kube's own
// environment included); a file whose name starts with ".." is legitimate.
func TestConfigMapFilesStayInTheRepository(t *testing.T) {
	for _, target := range []string{"victim", "/proc/self/environ"} {
		repo, victim := hostileRepo(t, `app: api
generates:
- configMap: {name: leak, clusters: [sandbox], files: [config/link]}
`)
		if target == "victim" {
			target = victim
		}
		if err := os.MkdirAll(filepath.Join(repo, "config"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(repo, "config", "link")); err != nil {
			t.Fatal(err)
		}
		r := Repo(repo, "", true)
		if r.Err == nil || !strings.Contains(r.Error, `file "config/link" leads outside the repository`) {
			t.Fatalf("%s: Repo() error = %v", target, r.Err)
		}
		assertNoLeak(t, r, victim)
		if _, err := os.Stat(filepath.Join(repo, OutputDir)); !os.IsNotExist(err) {
			t.Errorf("%s: something was written", target)
		}
	}

	repo, _ := hostileRepo(t, `app: api
generates:
- configMap: {name: ok, clusters: [sandbox], files: [passwd=..passwd, config/inner.txt, config/alias]}
`)
	_ = os.MkdirAll(filepath.Join(repo, "config"), 0o755)
	_ = os.WriteFile(filepath.Join(repo, "..passwd"), []byte("not the system's\n"), 0o644)
	_ = os.WriteFile(filepath.Join(repo, "config", "inner.txt"), []byte("inner\n"), 0o644)
	// A link that stays inside the repository is fine.
	if err := os.Symlink("inner.txt", filepath.Join(repo, "config", "alias")); err != nil {
		t.Fatal(err)
	}
	r := Repo(repo, "", true)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	data, _ := os.ReadFile(filepath.Join(repo, "kubernetes/sandbox/configmap-ok.yaml"))
	for _, want := range []string{"passwd: |\n    not the system's\n", "inner.txt: |\n    inner\n", "alias: |\n    inner\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("configmap lacks %q:\n%s", want, data)
		}
	}
	// Without KEY=, the file name would be the key, which the API refuses.
	f, err := ParseSpec(filepath.Join(repo, spec.FileName), []byte("app: api\ngenerates:\n- configMap: {name: ok, clusters: [sandbox], files: [..passwd]}\n"))
	if err == nil || !strings.Contains(err.Error(), `key "..passwd" (from file ..passwd) is not a valid ConfigMap key`) || !strings.Contains(err.Error(), "KEY=..passwd") {
		t.Fatalf("Parse() = %v, %v", f, err)
	}
}

// A credential literal is refused wherever it is in a generated object, not only
// under env:, and the message never shows it.
func TestCredentialLiteralsAnywhereAreRefused(t *testing.T) {
	const secret = "hunter2hunter2"
	for name, gen := range map[string]string{
		"patch": `- web:
    clusters: [sandbox]
    image: r/api
    tag: "1"
    patches:
    - kind: Deployment
      merge: {spec: {template: {spec: {containers: [{name: api, env: [{name: DB_PASSWORD, value: ` + secret + `}]}]}}}}`,
		"args":           `- worker: {name: w, clusters: [sandbox], image: r/w, tag: "1", args: ["--db-password=` + secret + `"]}`,
		"configMap data": `- configMap: {name: c, clusters: [sandbox], data: {db_password: ` + secret + `}}`,
		"configMap text": `- configMap: {name: c, clusters: [sandbox], data: {app.properties: "db.password=` + secret + `\n"}}`,
		"annotation": `- serviceAccount:
    clusters: [sandbox]
    annotations: {example.com/dsn: "postgres://app:` + secret + `@db/app"}`,
		"url in env": `- worker: {name: w, clusters: [sandbox], image: r/w, tag: "1", env: {UPSTREAM: "https://u:` + secret + `@x.example.com"}}`,
	} {
		repo, _ := hostileRepo(t, "app: api\ngenerates:\n"+gen+"\n")
		r := Repo(repo, "", true)
		if r.Err == nil || !regexp.MustCompile(`looks like a credential`).MatchString(r.Error) {
			t.Errorf("%s: Repo() error = %v", name, r.Err)
			continue
		}
		if strings.Contains(r.Error, secret) {
			t.Errorf("%s: the error shows the value: %s", name, r.Error)
		}
		if _, err := os.Stat(filepath.Join(repo, OutputDir)); !os.IsNotExist(err) {
			t.Errorf("%s: something was written", name)
		}
	}
}

// A CI checkout's .git/config holds the job's token: a configMap cannot take
// it, by name or through a link inside the repository.
func TestConfigMapFilesCannotReadVersionControlMetadata(t *testing.T) {
	for _, files := range []string{"[x=.git/config]", "[x=config/link]"} {
		repo, _ := hostileRepo(t, "app: api\ngenerates:\n- configMap: {name: leak, clusters: [sandbox], files: "+files+"}\n")
		_ = os.MkdirAll(filepath.Join(repo, ".git"), 0o755)
		_ = os.WriteFile(filepath.Join(repo, ".git", "config"), []byte(victimContent), 0o600)
		_ = os.MkdirAll(filepath.Join(repo, "config"), 0o755)
		if err := os.Symlink("../.git/config", filepath.Join(repo, "config", "link")); err != nil {
			t.Fatal(err)
		}
		r := Repo(repo, "", true)
		if r.Err == nil || !strings.Contains(r.Error, "version-control metadata") {
			t.Fatalf("%s: Repo() error = %v", files, r.Err)
		}
		assertNoLeak(t, r, filepath.Join(repo, ".git", "config"))
	}
}

// kube-generate.yaml as a link to a file outside the repository (a token) is
// refused unread, and the message quotes nothing of it.
func TestLinkedSpecIsRefused(t *testing.T) {
	repo, victim := hostileRepo(t, "")
	if err := os.Remove(filepath.Join(repo, spec.FileName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(repo, spec.FileName)); err != nil {
		t.Fatal(err)
	}
	r := Repo(repo, "", true)
	if r.Err == nil || !strings.Contains(r.Error, "kube-generate.yaml:1:1: a symbolic link or path that leaves") {
		t.Fatalf("Repo() error = %v", r.Err)
	}
	assertNoLeak(t, r, victim)
}

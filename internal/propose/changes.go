package propose

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/kube-idp/kube/internal/generate"
)

// Changes are what regenerating changed in one repository.
type Changes struct {
	// From are the template versions the files were written with (several
	// when a previous update was partial); empty for a first generation.
	From     []string         `json:"from"`
	To       string           `json:"to"`
	Clusters []ClusterChanges `json:"clusters"`
	// APIs are the objects whose apiVersion or kind changed (API removals).
	APIs []APIChange `json:"apis,omitempty"`
}

// ClusterChanges are the files of one kubernetes/<cluster>/.
type ClusterChanges struct {
	Cluster string   `json:"cluster"`
	Added   []string `json:"added,omitempty"`
	Changed []string `json:"changed,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// APIChange is one object written through another API.
type APIChange struct {
	File string `json:"file"`
	From string `json:"from"` // "extensions/v1beta1 Ingress"
	To   string `json:"to"`
}

// Files is the number of files changed.
func (c *Changes) Files() int {
	n := 0
	for _, cl := range c.Clusters {
		n += len(cl.Added) + len(cl.Changed) + len(cl.Removed)
	}
	return n
}

var templatesLine = regexp.MustCompile(`^# Templates v([^,\s]+),`)

// templateVersions reads the header of every generated file under dir's
// kubernetes/ (the versions before regenerating).
func templateVersions(dir string) []string {
	seen := map[string]bool{}
	root := filepath.Join(dir, generate.OutputDir)
	_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Ext(p) != ".yaml" {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for i := 0; i < 3 && s.Scan(); i++ {
			if m := templatesLine.FindStringSubmatch(s.Text()); m != nil {
				seen[m[1]] = true
				break
			}
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, "v"+v)
	}
	sort.Strings(out)
	return out
}

// changesOf reads git's name-status list of the staged kubernetes/, per
// cluster.
func changesOf(nameStatus string) []ClusterChanges {
	byCluster := map[string]*ClusterChanges{}
	for _, line := range strings.Split(nameStatus, "\n") {
		status, file, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		parts := strings.SplitN(file, "/", 3)
		if len(parts) < 3 {
			continue
		}
		c := byCluster[parts[1]]
		if c == nil {
			c = &ClusterChanges{Cluster: parts[1]}
			byCluster[parts[1]] = c
		}
		switch status[:1] {
		case "A":
			c.Added = append(c.Added, file)
		case "D":
			c.Removed = append(c.Removed, file)
		default:
			c.Changed = append(c.Changed, file)
		}
	}
	out := make([]ClusterChanges, 0, len(byCluster))
	for _, c := range byCluster {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cluster < out[j].Cluster })
	return out
}

// typeOf is an object's "apiVersion kind" from its top-level lines.
type typeOf struct{ apiVersion, kind string }

func (t typeOf) String() string { return t.apiVersion + " " + t.kind }

// apiChanges finds the objects written through another API: a changed file
// whose apiVersion or kind lines changed, or a removed file whose object
// (same cluster, same name) is now written as another kind.
func apiChanges(dir string, clusters []ClusterChanges, diff string) []APIChange {
	old, new := map[string]typeOf{}, map[string]typeOf{}
	file := ""
	for _, line := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(line, "--- a/"):
			file = strings.TrimPrefix(line, "--- a/")
		case strings.HasPrefix(line, "+++ b/"):
			file = strings.TrimPrefix(line, "+++ b/")
		case strings.HasPrefix(line, "-apiVersion: "):
			t := old[file]
			t.apiVersion = strings.TrimSpace(strings.TrimPrefix(line, "-apiVersion: "))
			old[file] = t
		case strings.HasPrefix(line, "-kind: "):
			t := old[file]
			t.kind = strings.TrimSpace(strings.TrimPrefix(line, "-kind: "))
			old[file] = t
		}
	}
	current := func(f string) typeOf {
		if t, ok := new[f]; ok {
			return t
		}
		t := readType(filepath.Join(dir, filepath.FromSlash(f)))
		new[f] = t
		return t
	}
	var out []APIChange
	for _, c := range clusters {
		for _, f := range c.Changed {
			o, n := old[f], current(f)
			if o.apiVersion == "" && o.kind == "" {
				continue
			}
			if o.apiVersion == "" {
				o.apiVersion = n.apiVersion
			}
			if o.kind == "" {
				o.kind = n.kind
			}
			if o != n {
				out = append(out, APIChange{File: f, From: o.String(), To: n.String()})
			}
		}
		for _, f := range c.Removed {
			o := old[f]
			_, name, _ := strings.Cut(filepath.Base(f), "-")
			for _, a := range c.Added {
				if _, aname, _ := strings.Cut(filepath.Base(a), "-"); aname == name && name != "" {
					if n := current(a); n != o && o.kind != "" {
						out = append(out, APIChange{File: a, From: o.String(), To: n.String()})
					}
				}
			}
		}
	}
	return out
}

// readType reads an object's top-level apiVersion and kind lines.
func readType(path string) typeOf {
	var t typeOf
	data, err := os.ReadFile(path)
	if err != nil {
		return t
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "apiVersion: "); ok && t.apiVersion == "" {
			t.apiVersion = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "kind: "); ok && t.kind == "" {
			t.kind = strings.TrimSpace(v)
		}
	}
	return t
}

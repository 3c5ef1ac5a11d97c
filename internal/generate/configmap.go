package generate

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-idp/kube/internal/repofile"
	"github.com/kube-idp/kube/internal/spec"
)

var configMapKind = spec.Kind{Key: "configMap", Doc: "A ConfigMap from files and literal values.", New: func() spec.GeneratorSpec { return &ConfigMapGen{} }}

// ConfigMapGen generates a ConfigMap.
type ConfigMapGen struct {
	spec.Common `yaml:",inline"`
	Name        string            `yaml:"name" required:"true" doc:"ConfigMap name."`
	Files       []string          `yaml:"files" doc:"Files (relative to this spec, inside the repository) whose contents become keys named after them; KEY=PATH names the key."`
	Data        map[string]string `yaml:"data" doc:"Literal keys and values."`
	Loc         spec.Loc
}

// ConfigFile is one entry of a configMap's files: the key and the file.
type ConfigFile struct {
	Key, Path string
}

// FileEntries splits the files entries: "PATH" (the key is the file's name) or
// "KEY=PATH", as kubectl create configmap --from-file takes them.
func (c *ConfigMapGen) FileEntries() []ConfigFile {
	out := make([]ConfigFile, len(c.Files))
	for i, f := range c.Files {
		if k, p, ok := strings.Cut(f, "="); ok {
			out[i] = ConfigFile{Key: k, Path: p}
			continue
		}
		out[i] = ConfigFile{Key: path.Base(filepath.ToSlash(f)), Path: f}
	}
	return out
}

func (c *ConfigMapGen) Base() *spec.Common { return &c.Common }
func (c *ConfigMapGen) Describe() string   { return fmt.Sprintf("configMap %q", c.Name) }
func (c *ConfigMapGen) Default(*spec.File) {}

func (c *ConfigMapGen) Validate(v *spec.Validator) {
	v.Common(c.Loc, &c.Common, "configMap", "ConfigMap", c.Name)
	v.Name(c.Loc, "name", c.Name)
	for _, cf := range c.FileEntries() {
		if msg := v.CheckFile(cf.Path); msg != "" {
			v.Errorf(c.Loc.At("files"), "file %q %s", cf.Path, msg)
		}
		if errs := validation.IsConfigMapKey(cf.Key); len(errs) > 0 {
			v.Errorf(c.Loc.At("files"), "key %q (from file %s) is not a valid ConfigMap key: %s; name the key: KEY=%s", cf.Key, cf.Path, errs[0], cf.Path)
		}
		if _, dup := c.Data[cf.Key]; dup {
			v.Errorf(c.Loc.At("files"), "key %q comes from both files and data", cf.Key)
		}
	}
	for k := range c.Data {
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			v.Errorf(c.Loc.At("data"), "data key %q is not valid: %s", k, errs[0])
		}
	}
}

// Objects reads the files through os.Root, which refuses any path, symbolic
// links included, that leaves the spec's directory.
func (c *ConfigMapGen) Objects(b *builder) ([]runtime.Object, error) {
	data := map[string]string{}
	for k, v := range c.Data {
		data[k] = v
	}
	cm := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: b.meta(c.Name, ""), Data: data}
	if len(c.Files) == 0 {
		return []runtime.Object{cm}, nil
	}
	repo, err := os.OpenRoot(b.root)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	for _, cf := range c.FileEntries() {
		if err := repofile.Check(b.root, cf.Path); err != nil {
			return nil, fmt.Errorf("configMap %s: %w", c.Name, err)
		}
		content, err := repo.ReadFile(filepath.FromSlash(cf.Path))
		if err != nil {
			return nil, fmt.Errorf("configMap %s: %w", c.Name, err)
		}
		data[cf.Key] = string(content)
	}
	return []runtime.Object{cm}, nil
}

// Command terraform-provider-kubetest is the provider the kube infra tests plan and
// apply with: real OpenTofu talks to it over the plugin protocol, as to a cloud's.
// Its resources live only in the state. kubetest_bucket has tags and a computed
// tags_all that merges the provider's default_tags in, as the AWS provider's
// resources do; the provider's unknown_tags_all makes tags_all unknown until apply
// (as when a tag's value comes from another resource). kubetest_note has no tags.
// A bucket named "fail-on-apply" fails its create, for the failed-apply path; one
// named "slow-apply" takes 10 seconds, a cloud call in flight when an apply is
// interrupted.
package main

import (
	"context"
	"log"
	"maps"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	pschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func main() {
	err := providerserver.Serve(context.Background(), func() provider.Provider { return &kubetest{} },
		providerserver.ServeOpts{Address: "registry.opentofu.org/kube-idp/kubetest"})
	if err != nil {
		log.Fatal(err)
	}
}

type kubetest struct{}

type providerModel struct {
	DefaultTags    types.Map  `tfsdk:"default_tags"`
	UnknownTagsAll types.Bool `tfsdk:"unknown_tags_all"`
}

// config is what the provider hands its resources.
type config struct {
	defaultTags    map[string]string
	unknownTagsAll bool
}

func (p *kubetest) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "kubetest"
}

func (p *kubetest) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = pschema.Schema{Attributes: map[string]pschema.Attribute{
		"default_tags":     pschema.MapAttribute{ElementType: types.StringType, Optional: true},
		"unknown_tags_all": pschema.BoolAttribute{Optional: true},
	}}
}

func (p *kubetest) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	c := &config{defaultTags: map[string]string{}, unknownTagsAll: m.UnknownTagsAll.ValueBool()}
	resp.Diagnostics.Append(m.DefaultTags.ElementsAs(ctx, &c.defaultTags, false)...)
	resp.ResourceData = c
}

func (p *kubetest) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return &bucket{} }, func() resource.Resource { return &note{} }}
}

func (p *kubetest) DataSources(context.Context) []func() datasource.DataSource { return nil }

type bucket struct{ c *config }

type bucketModel struct {
	ID      types.String `tfsdk:"id"`
	Name    types.String `tfsdk:"name"`
	Tags    types.Map    `tfsdk:"tags"`
	TagsAll types.Map    `tfsdk:"tags_all"`
}

func (r *bucket) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = "kubetest_bucket"
}

func (r *bucket) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = rschema.Schema{Attributes: map[string]rschema.Attribute{
		"id":       rschema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		"name":     rschema.StringAttribute{Required: true, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
		"tags":     rschema.MapAttribute{ElementType: types.StringType, Optional: true},
		"tags_all": rschema.MapAttribute{ElementType: types.StringType, Computed: true},
	}}
}

func (r *bucket) Configure(_ context.Context, req resource.ConfigureRequest, _ *resource.ConfigureResponse) {
	if c, ok := req.ProviderData.(*config); ok {
		r.c = c
	}
}

// ModifyPlan computes tags_all at plan time, as the AWS provider does: the
// provider's default_tags with the resource's tags over them.
func (r *bucket) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.c == nil {
		return
	}
	if r.c.unknownTagsAll {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("tags_all"), types.MapUnknown(types.StringType))...)
		return
	}
	var m bucketModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if m.Tags.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("tags_all"), types.MapUnknown(types.StringType))...)
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("tags_all"), r.merged(ctx, m.Tags))...)
}

func (r *bucket) merged(ctx context.Context, tags types.Map) types.Map {
	all := map[string]string{}
	if r.c != nil {
		maps.Copy(all, r.c.defaultTags)
	}
	own := map[string]string{}
	tags.ElementsAs(ctx, &own, false)
	maps.Copy(all, own)
	vals := map[string]attr.Value{}
	for k, v := range all {
		vals[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, vals)
}

func (r *bucket) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m bucketModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if m.Name.ValueString() == "fail-on-apply" {
		resp.Diagnostics.AddError("bucket refused", "the test provider refuses a bucket named fail-on-apply")
		return
	}
	if m.Name.ValueString() == "slow-apply" {
		select {
		case <-ctx.Done(): // OpenTofu stopped the provider
			resp.Diagnostics.AddError("stopped", "the apply was interrupted")
			return
		case <-time.After(10 * time.Second):
		}
	}
	m.ID = types.StringValue("bucket-" + m.Name.ValueString())
	m.TagsAll = r.merged(ctx, m.Tags)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *bucket) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m bucketModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *bucket) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m bucketModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	m.TagsAll = r.merged(ctx, m.Tags)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *bucket) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

type note struct{}

type noteModel struct {
	ID   types.String `tfsdk:"id"`
	Text types.String `tfsdk:"text"`
}

func (r *note) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = "kubetest_note"
}

func (r *note) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = rschema.Schema{Attributes: map[string]rschema.Attribute{
		"id":   rschema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		"text": rschema.StringAttribute{Required: true, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
	}}
}

func (r *note) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m noteModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	m.ID = types.StringValue("note")
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *note) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m noteModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *note) Update(context.Context, resource.UpdateRequest, *resource.UpdateResponse) {}
func (r *note) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

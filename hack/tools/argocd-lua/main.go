// argocd-lua evaluates an Argo CD resource health script the way the Argo CD application
// controller does, so the chart's health checks are tested with the interpreter Argo CD
// embeds (gopher-lua: Lua 5.1 semantics) rather than a stock Lua.
//
//	argocd-lua health SCRIPT.lua < object.json   prints {"status":"…","message":"…"}
//
// What Argo CD does for a health script from argocd-cm (resource.customizations.health.*,
// useOpenLibs unset), mirrored here: the standard libraries are NOT opened; only package,
// base and table are, and `os` is reachable solely through require("os") with just
// os.time and os.date. The object is the global `obj`, the run is cancelled after 1 s, the
// returned table goes through gopher-json into {status, message}, and a status outside
// Argo CD's set becomes Unknown. Any other library (string, math, io, os.exit…) is absent,
// as in Argo CD, so a script relying on it fails here as it would there.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

// health is Argo CD's HealthStatus as a script returns it.
type health struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// validStatuses are the health codes Argo CD accepts from a script (gitops-engine's set).
var validStatuses = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

const scriptTimeout = 1 * time.Second

func main() {
	if len(os.Args) != 3 || os.Args[1] != "health" {
		fmt.Fprintln(os.Stderr, "usage: argocd-lua health SCRIPT.lua < object.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail(err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(input, &obj); err != nil {
		fail(fmt.Errorf("object on stdin is not a JSON object: %w", err))
	}
	hs, err := evalHealth(string(script), obj)
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(hs)
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "argocd-lua:", err)
	os.Exit(1)
}

// newState opens the libraries Argo CD opens for a ConfigMap health script, nothing more.
func newState() (*lua.LState, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			l.Close()
			return nil, err
		}
	}
	l.PreloadModule(lua.OsLibName, safeOs)
	return l, nil
}

// safeOs is require("os"): gopher-lua's own os.time and os.date, the only two functions
// Argo CD's safe os library exposes (no exit, execute, getenv, remove…). There is no
// global `os`, as in Argo CD.
func safeOs(l *lua.LState) int {
	mod := l.NewTable()
	for name, fn := range safeOsFuncs {
		mod.RawSetString(name, l.NewFunction(fn))
	}
	l.Push(mod)
	return 1
}

// safeOsFuncs takes os.time and os.date from a scratch state with gopher-lua's full os
// library: their Go functions are state-independent, and gopher-lua does not export them.
var safeOsFuncs = func() map[string]lua.LGFunction {
	scratch := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer scratch.Close()
	lua.OpenOs(scratch)
	full := scratch.GetGlobal(lua.OsLibName).(*lua.LTable)
	funcs := map[string]lua.LGFunction{}
	for _, name := range []string{"time", "date"} {
		funcs[name] = full.RawGetString(name).(*lua.LFunction).GFunction
	}
	return funcs
}()

func evalHealth(script string, obj map[string]any) (*health, error) {
	l, err := newState()
	if err != nil {
		return nil, err
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	fn, err := l.LoadString(script)
	if err != nil {
		return nil, err
	}
	l.Push(fn)
	if err := l.PCall(0, lua.MultRet, nil); err != nil {
		return nil, err
	}
	ret := l.Get(-1)
	switch ret.Type() {
	case lua.LTNil:
		return &health{}, nil
	case lua.LTTable:
	default:
		return nil, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
	}
	encoded, err := luajson.Encode(ret)
	if err != nil {
		return nil, err
	}
	hs := &health{}
	if err := json.Unmarshal(encoded, hs); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Value == "array" { // an empty table encodes as []
			return &health{}, nil
		}
		return nil, err
	}
	if !validStatuses[hs.Status] {
		return &health{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return hs, nil
}

// toLua converts a decoded JSON value into Lua values as Argo CD hands `obj` to a script:
// objects and arrays become tables, numbers LNumber, null nil.
func toLua(l *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []any:
		t := l.CreateTable(len(x), 0)
		for _, item := range x {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(x))
		for k, item := range x {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

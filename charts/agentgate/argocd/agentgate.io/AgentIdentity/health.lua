-- Argo CD health of an agentgate AgentIdentity: Healthy only while the operator has
-- verified that no route lets the agent skip agentgate (BoundaryVerified) and the agent
-- is Ready. A suspended agent is Suspended (the kill switch, used on purpose).
-- Lua 5.1 (Argo CD's gopher-lua): no goto, no integer division, no utf8 library.
local hs = {}
local function condition(kind)
  if obj.status ~= nil and obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == kind then return c end
    end
  end
  return nil
end
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the agentgate operator to verify the agent's boundary"
  return hs
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "The operator has not yet observed the latest spec"
  return hs
end
local ready = condition("Ready")
if ready ~= nil and ready.status == "False" and ready.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = ready.message or "The agent is suspended: every call is denied"
  return hs
end
local critical, warnings, first = 0, 0, nil
if obj.status.findings ~= nil then
  for _, f in ipairs(obj.status.findings) do
    if f.severity == "Critical" then
      critical = critical + 1
      if first == nil then first = f end
    else
      warnings = warnings + 1
    end
  end
end
local verified = condition("BoundaryVerified")
if verified ~= nil and verified.status == "False" then
  hs.status = "Degraded"
  if first ~= nil then
    hs.message = critical .. " critical finding(s); " .. (first.route or "?") .. ": " .. (first.message or "") .. " Fix: " .. (first.fix or "run agentgate verify")
  else
    hs.message = verified.message or "The boundary is not verified: run agentgate verify"
  end
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = ready.message or "The agent is not ready"
  return hs
end
if verified == nil or verified.status ~= "True" or ready == nil or ready.status ~= "True" then
  hs.status = "Progressing"
  hs.message = (verified ~= nil and verified.message) or "Waiting for boundary verification"
  return hs
end
hs.status = "Healthy"
if warnings > 0 then
  hs.message = "Boundary verified; " .. warnings .. " warning(s): run agentgate verify"
else
  hs.message = "Boundary verified: no route skips agentgate"
end
return hs

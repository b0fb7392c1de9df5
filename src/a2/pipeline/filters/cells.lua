-- Notebook cells -> report blocks (pandoc's ipynb reader, one chapter).
-- Code is hidden unless the cell is tagged show-code (or `#| echo: true`);
-- `#| label: fig-x` and `#| fig-cap: "..."` make the cell's images one
-- figure; the parameters cells become a one-line note; stderr, and
-- bare reprs such as <Figure size ...>, are dropped; the models named by
-- a2.report.source go to the figure or table shown before them.

local function tagset(div)
  local set = {}
  for tag in (div.attributes.tags or ""):gmatch('"(.-)"') do
    set[tag] = true
  end
  return set
end

-- Split leading `#| key: value` lines (Quarto cell options) from code.
local function cell_options(code)
  local opts, body, head = {}, {}, true
  for line in (code .. "\n"):gmatch("(.-)\n") do
    local k, v = line:match("^#|%s*([%w%-]+):%s*(.-)%s*$")
    if head and k then
      v = v:match('^"(.*)"$') or v:match("^'(.*)'$") or v
      opts[k] = v
    else
      head = false
      body[#body + 1] = line
    end
  end
  return opts, table.concat(body, "\n"):gsub("%s+$", "")
end

local function code_text(div)
  local parts = {}
  div:walk{CodeBlock = function(cb) parts[#parts + 1] = cb.text end}
  return table.concat(parts, "\n")
end

local function is_noise(div)
  if div.classes:includes("stderr") then return true end
  if div.classes:includes("execute_result")
      or div.classes:includes("display_data") then
    local has_image = false
    div:walk{Image = function() has_image = true end}
    if has_image then return false end
    local text = code_text(div)
    return text:match("^%s*%[?<.* at 0x%x+>%]?%s*$") ~= nil
        or text:match("^%s*<Figure size .*>%s*$") ~= nil
  end
  return false
end

local function params_note(code)
  local items = pandoc.Inlines{pandoc.Emph{pandoc.Str("Parameters used:")}}
  local n = 0
  for line in (code .. "\n"):gmatch("(.-)\n") do
    if line:match("^[%a_][%w_]*%s*=") then
      items:insert(n == 0 and pandoc.Space() or pandoc.Str("; "))
      items:insert(pandoc.Code(line))
      n = n + 1
    end
  end
  if n == 0 then return {} end
  return pandoc.Div({pandoc.Para(items)}, pandoc.Attr("", {"params"}))
end

local function figure(images, opts)
  local caption = {}
  if opts["fig-cap"] then
    caption = pandoc.read(opts["fig-cap"], "markdown").blocks
    local alt = pandoc.utils.stringify(caption)
    images = images:map(function(img)  -- alt text for readers of the HTML
      img.caption = pandoc.Inlines(alt)
      return img
    end)
  end
  return pandoc.Figure(pandoc.Plain(images), caption,
                       pandoc.Attr(opts.label or ""))
end

-- Cache keys named by a2.report.source (a Span.a2-models), or nil.
local function model_keys(block)
  local keys
  block:walk{Span = function(span)
    if span.classes:includes("a2-models") then
      keys = keys or {}
      span:walk{Code = function(c) keys[#keys + 1] = c.text end}
    end
  end}
  return keys
end

-- Give the keys to the last figure or table in out[1..n] (provenance.lua
-- prints them in the source line under it).
local function attach_keys(out, n, keys)
  local value = table.concat(keys, " ")
  local function tag(el)
    el.attributes["a2-models"] = value
    return el
  end
  for i = n, 1, -1 do
    local hit = false
    out[i] = out[i]:walk{
      Figure = function(f) hit = true; return tag(f) end,
      Table = function(t) hit = true; return tag(t) end}
    if out[i].t == "Figure" then hit = true; tag(out[i]) end
    if hit then return end
  end
end

local function code_cell(div)
  local tags = tagset(div)
  if tags["parameters"] then return {} end
  local out, opts = pandoc.Blocks{}, {}
  local images, fig_at, named = pandoc.Inlines{}, nil, {}
  for _, block in ipairs(div.content) do
    if block.t == "CodeBlock" then
      if tags["injected-parameters"] then return params_note(block.text) end
      local code
      opts, code = cell_options(block.text)
      if tags["show-code"] or opts.echo == "true" then
        out:insert(pandoc.CodeBlock(code, {class = "python"}))
      end
    elseif block.t == "Div" and model_keys(block) then
      named[#named + 1] = {at = #out, keys = model_keys(block)}
    elseif block.t == "Div" and not is_noise(block) then
      local want_fig = opts["fig-cap"] or (opts.label or ""):match("^fig%-")
      local imgs = pandoc.Inlines{}
      if want_fig then
        block:walk{Image = function(img) imgs:insert(img) end}
      end
      if #imgs > 0 then
        images:extend(imgs)
        if not fig_at then
          fig_at = #out + 1
          out:insert(pandoc.Div({}))  -- placeholder
        end
      else
        out:insert(pandoc.Div(block.content, {class = "output"}))
      end
    end
  end
  if fig_at then out[fig_at] = figure(images, opts) end
  for _, n in ipairs(named) do attach_keys(out, n.at, n.keys) end
  return out
end

-- Markdown outputs (a2.report.md): prose with computed numbers.
function RawBlock(raw)
  if raw.format == "markdown" then
    -- One Div: a returned list would keep only its first block here.
    return pandoc.Div(pandoc.read(raw.text, "markdown").blocks)
  end
end

function Div(div)
  if div.classes:includes("cell") then
    if div.classes:includes("code") then return code_cell(div) end
    return div.content  -- markdown/raw cells: no wrapper, no metadata
  end
end

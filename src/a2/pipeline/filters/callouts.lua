-- The embedded renderer's stand-in for Quarto's callouts: a
-- ::: {.callout-note collapse="true"} whose first heading is its title
-- becomes Div.callout > [Div.callout-title, Div.callout-body], which
-- html.lua and typst.lua draw. The title heading is no section heading:
-- it is not numbered and stays out of the contents.

local function callout(div)
  local kind
  for _, c in ipairs(div.classes) do
    kind = kind or c:match("^callout%-(%a+)$")
  end
  if not kind then return nil end
  local title, body = nil, pandoc.Blocks{}
  if div.attributes.title then
    title = pandoc.Inlines(div.attributes.title)
  end
  for _, b in ipairs(div.content) do
    if not title and b.t == "Header" then
      title = b.content
    else
      body:insert(b)
    end
  end
  local classes = {"callout", "callout-" .. kind}
  for _, c in ipairs(div.classes) do
    if not c:match("^callout") then classes[#classes + 1] = c end
  end
  local attrs = {}
  if div.attributes.collapse == "true" then attrs.collapse = "true" end
  return pandoc.Div({
    pandoc.Div({pandoc.Plain(title or {pandoc.Str(kind)})},
               {class = "callout-title"}),
    pandoc.Div(body, {class = "callout-body"})},
    pandoc.Attr(div.identifier, classes, attrs))
end

return {{Div = callout}}

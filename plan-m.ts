import { Rule } from './gen/mcr/v1/rules';
import { planApply } from './server/rules/apply-plan';
import { RuleSet } from './server/rules/rule-set';
const L={maxRules:100000,maxOutputsPerRule:64};
function rule(i:number,v=0){return Rule.fromPartial({name:`bench-${i}`,input:{interface:'eth0',group:`239.${(i>>16)&255}.${(i>>8)&255}.${i&255}`,port:5000},outputs:[0,1,2,3].map(k=>({interface:`eth${1+k}`,address:`10.0.${k}.${(i%250)+1}`,port:6000+v}))});}
const d=Array.from({length:20000},(_,i)=>rule(i));
for (let rep=0;rep<5;rep++){
let t=performance.now(); const p=planApply(RuleSet.empty(),d,{replace:true,limits:L,now:1n}); const t1=performance.now()-t;
const set=RuleSet.of(p.added); const c=[...d]; c[5]=rule(5,1);
t=performance.now(); const q=planApply(set,c,{replace:true,limits:L,now:2n}); console.log('fresh',t1.toFixed(1),'diff',(performance.now()-t).toFixed(1), q.changed.length);
}
